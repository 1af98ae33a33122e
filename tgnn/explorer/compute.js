// tgnn explorer, part 2 of 6: quantities computed in the page from the stored edges.

// R_abs(s, t) for every source s of the walk on layer l, slot s's stored edges, absorbed at
// token 0 (tgnn.theory.absorbing_resistance, sparse path; rho = 1): one back substitution
// x^T (I - Q) = e_t^T over rows t..1, O(t K). NaN where undefined (s > t, or assumption H
// fails), Infinity where s is not reached.
function absorbing(l, s, t) {
  const out = new Float64Array(n).fill(NaN);
  if (!D.causal) return out;
  if (t === 0) { out[0] = 0; return out; }
  const keys = KEYS[l], w = WEIGHTS[l], acc = new Float64Array(t + 1), x = new Float64Array(t + 1);
  const escape = new Float64Array(t + 1).fill(1);
  acc[t] = 1;
  for (let i = t; i >= 1; i--) {
    const base = slotOf(s, i);
    for (let r = 0; r < K; r++) if (keys[base + r] === i && w[base + r] > 0) escape[i] -= w[base + r];
    if (escape[i] <= 1e-14) return out;  // token i reads only itself: token 0 is unreachable
    x[i] = acc[i] / escape[i];
    if (x[i] === 0) continue;
    for (let r = 0; r < K; r++) {
      const j = keys[base + r];
      if (j < i && w[base + r] > 0) acc[j] += x[i] * w[base + r];
    }
  }
  for (let src = 1; src <= t; src++) out[src] = x[src] > 0 ? x[t] / (escape[src] * x[src]) : Infinity;
  out[0] = acc[0] > 0 ? x[t] / acc[0] : Infinity;
  return out;
}

// Rollout flow into (depth d0, token t0) through the stored edges of slot s (residual rho):
// per layer the flow along each edge, the input shares (sources), and the strongest path.
function flows(d0, t0, s) {
  let c = new Float64Array(n), g = new Float64Array(n);
  c[t0] = 1; g[t0] = 1;
  const edges = [], back = [];
  for (let d = d0; d >= 1; d--) {
    const l = d - 1, keys = KEYS[l], w = WEIGHTS[l], prev = new Float64Array(n);
    const gp = new Float64Array(n), arg = new Int32Array(n).fill(-1), list = [];
    const offer = (i, j, f, p) => {
      prev[j] += f;
      if (f >= 1e-3) list.push([j, i, f]);
      if (p > gp[j]) { gp[j] = p; arg[j] = i; }
    };
    for (let i = 0; i < n; i++) {
      if (c[i] <= 0 && g[i] <= 0) continue;
      if (RHO < 1) offer(i, i, (1 - RHO) * c[i], (1 - RHO) * g[i]);
      const base = slotOf(s, i);
      for (let r = 0; r < K; r++) {
        if (!(w[base + r] > 0)) continue;
        const a = RHO * w[base + r];
        offer(i, keys[base + r], a * c[i], a * g[i]);
      }
    }
    edges[l] = list; back[l] = arg; c = prev; g = gp;
  }
  let j = 0;
  for (let t = 1; t < n; t++) if (g[t] > g[j]) j = t;
  const path = [j];
  for (let l = 0; l < d0; l++) { j = back[l][j]; path.push(j); }
  return { edges, sources: c, path, pathWeight: g[path[0]] };
}

// Values of quantity q at layer l, slot s over all positions (a view or a new array).
const cache = { target: -1, resistance: new Map() };  // resistances from one target token
function series(q, l, s) {
  if (q.kind === "row") return q.values.subarray((l * S + s) * n, (l * S + s + 1) * n);
  if (q.kind === "profile") return q.values.subarray(l * n, (l + 1) * n);
  const t = state.selected === null ? n - 1 : state.selected, key = l * S + s;
  if (t !== cache.target) { cache.target = t; cache.resistance.clear(); }
  if (!cache.resistance.has(key)) cache.resistance.set(key, absorbing(l, s, t));
  return cache.resistance.get(key);
}
function stderrSeries(q, l) { return q.stderr ? q.stderr.subarray(l * n, (l + 1) * n) : null; }
function transform(q, v) { return q.scale === "log" ? (v > 0 ? Math.log10(v) : NaN) : v; }
function finiteRange(q, arrays) {
  let lo = Infinity, hi = -Infinity;
  arrays.forEach((a) => {
    for (let i = 0; i < a.length; i++) {
      const v = transform(q, a[i]);
      if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
    }
  });
  if (lo > hi) return { lo: 0, hi: 1 };
  return { lo, hi: hi > lo ? hi : lo + 1e-9 };
}
