// tgnn explorer, part 5 of 6: the detail view, the unrolled graph of the window's tokens.
// Columns are depths 0..L (column l + 1 is the output of layer l); row 0 stands for every token
// outside the window, then one row per window token. An edge j -> i of layer l goes from
// (l, j) to (l + 1, i); edges from keys outside the window start at row 0.
const LABEL_W = 210, PAD = 16, RIGHT = 24, BUCKETS = 16, ROW_MIN = 16, ROW_MAX = 24;
let drawnLabels = [];
function detailGeometry() {
  const [a, b] = state.window, scroller = $("scroller");
  const width = Math.max(scroller.clientWidth - 2, 360), rows = b - a + 1;
  const rowH = Math.max(ROW_MIN, Math.min(ROW_MAX, Math.floor((scroller.clientHeight - 2 * PAD) / rows)));
  const colW = (width - LABEL_W - PAD - RIGHT) / Math.max(L, 1);
  return {
    width, height: 2 * PAD + rows * rowH, rowH, colW,
    x: (d) => LABEL_W + PAD + d * colW,
    row: (t) => (t >= a && t < b ? t - a + 1 : 0),
    y: (t) => PAD + ((t >= a && t < b ? t - a + 1 : 0) + 0.5) * rowH,
  };
}
function colourQuantity() { return state.colour < 0 ? null : profileList()[state.colour]; }
function nodeColour(q, range, l, t) {
  if (!q) return "#98a2b3";
  const v = transform(q, series(q, l, q.kind === "profile" ? 0 : state.head)[t]);
  return Number.isFinite(v) ? viridis((v - range.lo) / (range.hi - range.lo)) : "#d0d5dd";
}
function drawDetailEdges(ctx, G, l, strong, dim) {
  const keys = KEYS[l], w = WEIGHTS[l], [a, b] = state.window, paths = [];
  for (let k = 0; k < BUCKETS; k++) paths.push(new Path2D());
  let drawn = 0, hidden = 0, sig = 0;
  for (let i = a; i < b; i++) {
    const base = slotOf(state.head, i);
    for (let r = 0; r < K; r++) {
      const wt = w[base + r];
      if (!(wt > 0)) continue;
      if (wt < state.threshold) { hidden++; continue; }
      const j = keys[base + r], p = paths[Math.min(BUCKETS - 1, Math.floor(Math.sqrt(wt) * BUCKETS))];
      p.moveTo(G.x(l), G.y(j)); p.lineTo(G.x(l + 1), G.y(i));
      drawn++;
      sig = (Math.imul(sig, 31) + l * 65599 + i * 1031 + j * 7 + Math.round(wt * 4096)) | 0;
    }
  }
  ctx.lineWidth = strong ? 1.2 : 0.6;
  paths.forEach((p, k) => {
    const alpha = (0.1 + 0.9 * (k + 0.5) / BUCKETS) * (strong ? (dim ? 0.3 : 1) : 0.15);
    ctx.strokeStyle = strong ? "rgba(37,99,235," + alpha + ")" : "rgba(71,84,103," + alpha + ")";
    ctx.stroke(p);
  });
  return { drawn, hidden, sig };
}
function drawDetailFlow(ctx, G, F) {
  let count = 0;
  ctx.strokeStyle = "rgba(217,72,15,0.8)";
  const [a, b] = state.window;
  F.edges.forEach((list, l) => list.forEach(([j, i, f]) => {
    if (i < a || i >= b) return;
    ctx.lineWidth = 0.8 + 6 * Math.sqrt(f);
    ctx.beginPath(); ctx.moveTo(G.x(l), G.y(j)); ctx.lineTo(G.x(l + 1), G.y(i)); ctx.stroke();
    count++;
  }));
  ctx.strokeStyle = "#7a1f04"; ctx.lineWidth = 2.5; ctx.setLineDash([6, 3]); ctx.beginPath();
  F.path.forEach((t, d) => (d ? ctx.lineTo(G.x(d), G.y(t)) : ctx.moveTo(G.x(d), G.y(t))));
  ctx.stroke(); ctx.setLineDash([]);
  return count;
}
function drawDetailNodes(ctx, G) {
  const q = colourQuantity(), range = q ? colourRange(q) : null, [a, b] = state.window;
  const rad = Math.max(2, Math.min(4, G.rowH * 0.22));
  for (let d = 0; d <= L; d++) for (let t = a; t < b; t++) {
    ctx.fillStyle = d ? nodeColour(q, range, d - 1, t) : "#98a2b3";
    ctx.fillRect(G.x(d) - rad, G.y(t) - rad, 2 * rad, 2 * rad);
  }
  const font = Math.min(13, G.rowH - 3);
  ctx.font = font + "px ui-monospace, monospace"; ctx.textBaseline = "middle";
  drawnLabels = [];
  ctx.fillStyle = "#667085"; ctx.textAlign = "left";
  const outside = a + (D.causal ? 0 : n - b);
  ctx.fillText(outside ? "↑ " + outside + " tokens outside" : "(no tokens outside)", 4, PAD + 0.5 * G.rowH);
  for (let t = a; t < b; t++) {
    const y = G.y(t), text = D.tokens[t].length > 18 ? D.tokens[t].slice(0, 17) + "…" : D.tokens[t];
    if (t === state.selected) { ctx.fillStyle = "#fff4e6"; ctx.fillRect(0, y - G.rowH / 2, G.width, G.rowH); }
    ctx.fillStyle = nodeColour(q, range, state.layer, t);
    ctx.fillRect(LABEL_W - 14, y - G.rowH / 2 + 1, 10, G.rowH - 2);
    ctx.textAlign = "left"; ctx.fillStyle = "#667085"; ctx.fillText(String(t), 4, y);
    ctx.fillStyle = "#1d2330"; ctx.fillText(text, 52, y);
    drawnLabels.push({ t, text, y, font });
  }
  ctx.textAlign = "center"; ctx.fillStyle = "#667085"; ctx.font = "11px system-ui, sans-serif";
  for (let d = 0; d <= L; d++) ctx.fillText(d ? "L" + (d - 1) : "in", G.x(d), PAD / 2);
}
function colourRange(q) {
  if (q.kind === "profile") return finiteRange(q, [...Array(L).keys()].map((l) => series(q, l, 0)));
  return finiteRange(q, [...Array(L).keys()].map((l) => series(q, l, state.head)));
}
function drawDetail(F) {
  const G = detailGeometry(), canvas = $("detail"), ctx = fitCanvas(canvas, G.width, G.height);
  ctx.clearRect(0, 0, G.width, G.height);
  ctx.fillStyle = "#f2f4f7"; ctx.fillRect(0, PAD, G.width, G.rowH);
  let drawn = 0, hidden = 0, sig = 0;
  for (let l = 0; l < L; l++) {
    const strong = state.layer === l;
    if (!strong && !state.context) continue;
    const r = drawDetailEdges(ctx, G, l, strong, !!F);
    if (strong) { drawn = r.drawn; hidden = r.hidden; sig = r.sig; }
  }
  const pathEdges = F ? drawDetailFlow(ctx, G, F) : 0;
  drawDetailNodes(ctx, G);
  return { drawn, hidden, signature: sig >>> 0, pathEdges };
}
function detailHit(ev) {
  const G = detailGeometry(), rect = $("detail").getBoundingClientRect();
  const x = ev.clientX - rect.left, y = ev.clientY - rect.top, row = Math.floor((y - PAD) / G.rowH);
  const t = state.window[0] + row - 1;
  if (row < 1 || t >= state.window[1]) return null;
  const d = x < LABEL_W ? L : Math.min(L, Math.max(0, Math.round((x - G.x(0)) / G.colW)));
  return { d, t };
}
function nodePoint(d, t) {
  const G = detailGeometry(), rect = $("detail").getBoundingClientRect();
  return { x: rect.left + G.x(d), y: rect.top + G.y(t) };
}
