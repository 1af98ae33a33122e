// tgnn attention explorer: draws the unrolled attention graph embedded in #tgnn-data.
// Columns are depths 0..L (column l + 1 is the output of layer l), rows are tokens in order;
// an edge j -> i of layer l goes from (l, j) to (l + 1, i). No network access, no libraries.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("tgnn-data").textContent);
  const n = D.n, L = D.layers, H = D.heads, K = D.top_k, RHO = D.rho;
  const $ = (id) => document.getElementById(id);
  const LABEL_W = 130, PAD = 12, RIGHT = 28, BUCKETS = 16, FLOW_MIN = 0.01;
  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

  function bytes(b64) {
    const bin = atob(b64), out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  const KEYS = D.edges.map((e) => new Uint16Array(bytes(e.keys).buffer));
  const CODES = D.edges.map((e) => bytes(e.codes));
  const QS = D.quantities.map((q) => Object.assign({}, q, {
    values: new Float32Array(bytes(q.data).buffer), ranges: {},
  }));

  const state = {
    layer: 0, head: H, threshold: 0, colour: QS.length ? 0 : -1,
    rowH: Math.max(3, Math.min(24, Math.floor((window.innerHeight - 130) / n))),
    context: n * L <= 4096, selected: null,
  };
  const canvas = $("graph"), ctx = canvas.getContext("2d"), scroller = $("scroller");
  let last = { drawn: 0, hidden: 0, signature: 0, pathEdges: 0 };

  // ---- geometry -------------------------------------------------------------------------
  function geom() {
    const width = Math.max(scroller.clientWidth - 2, 480);
    const colW = (width - LABEL_W - PAD - RIGHT) / Math.max(L, 1);
    return {
      width, colW, height: 2 * PAD + n * state.rowH, top: scroller.scrollTop,
      view: Math.max(scroller.clientHeight, 100),
      x: (d) => LABEL_W + PAD + d * colW,
      y: (t) => PAD + (t + 0.5) * state.rowH,
    };
  }
  function weight(code) { const s = code / 255; return s * s; }
  function slot(s, i) { return (s * n + i) * K; }

  // ---- colour scale ---------------------------------------------------------------------
  function viridis(u) {
    const x = Math.min(Math.max(u, 0), 1) * (VIRIDIS.length - 1), k = Math.min(Math.floor(x), 3);
    const f = x - k, a = VIRIDIS[k], b = VIRIDIS[k + 1];
    return "rgb(" + a.map((v, c) => Math.round(v + f * (b[c] - v))).join(",") + ")";
  }
  function qRow(q) { return q.rows > 1 ? state.head : 0; }
  function qValue(q, l, t) { return q.values[(l * q.rows + qRow(q)) * n + t]; }
  function qRange(q) {
    const r = qRow(q);
    if (q.ranges[r]) return q.ranges[r];
    let lo = Infinity, hi = -Infinity;
    for (let l = 0; l < L; l++) for (let t = 0; t < n; t++) {
      let v = q.values[(l * q.rows + r) * n + t];
      if (q.scale === "log") v = v > 0 ? Math.log10(v) : NaN;
      if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    q.ranges[r] = { lo, hi: hi > lo ? hi : lo + 1e-9 };
    return q.ranges[r];
  }
  function colourOf(l, t) {
    if (state.colour < 0) return "#98a2b3";
    const q = QS[state.colour];
    let v = qValue(q, l, t);
    if (q.scale === "log") v = v > 0 ? Math.log10(v) : NaN;
    if (!Number.isFinite(v)) return "#d0d5dd";
    const r = qRange(q);
    return viridis((v - r.lo) / (r.hi - r.lo));
  }

  // ---- paths from a selected token (rollout flow through the drawn top-k graph) -------------
  function flows(d0, t0, s) {
    let c = new Float64Array(n), g = new Float64Array(n);
    c[t0] = 1; g[t0] = 1;
    const edges = [], back = [];
    for (let d = d0; d >= 1; d--) {
      const l = d - 1, prev = new Float64Array(n), gp = new Float64Array(n);
      const arg = new Int32Array(n).fill(-1), keys = KEYS[l], codes = CODES[l], list = [];
      const offer = (i, j, f, p) => {
        prev[j] += f;
        if (f >= FLOW_MIN) list.push([j, i, f]);
        if (p > gp[j]) { gp[j] = p; arg[j] = i; }
      };
      for (let i = 0; i < n; i++) {
        if (c[i] <= 0 && g[i] <= 0) continue;
        if (RHO < 1) offer(i, i, (1 - RHO) * c[i], (1 - RHO) * g[i]);
        const base = slot(s, i);
        for (let r = 0; r < K; r++) {
          const code = codes[base + r];
          if (!code) continue;
          const w = RHO * weight(code);
          offer(i, keys[base + r], w * c[i], w * g[i]);
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

  // ---- drawing: the canvas covers the visible window only (a spacer gives the scroll height) --
  function sizeCanvas(G) {
    const dpr = window.devicePixelRatio || 1;
    $("spacer").style.height = G.height + "px";
    canvas.width = Math.floor(G.width * dpr); canvas.height = Math.floor(G.view * dpr);
    canvas.style.width = G.width + "px"; canvas.style.height = G.view + "px";
    ctx.setTransform(dpr, 0, 0, dpr, 0, -G.top * dpr);
  }
  function visible(G, ya, yb) {
    return Math.max(ya, yb) >= G.top - 2 && Math.min(ya, yb) <= G.top + G.view + 2;
  }
  function drawEdges(G, l, strong, dim) {
    const paths = Array.from({ length: BUCKETS }, () => new Path2D());
    const keys = KEYS[l], codes = CODES[l], x0 = G.x(l), x1 = G.x(l + 1);
    let drawn = 0, hidden = 0, sig = 0;
    for (let i = 0; i < n; i++) {
      const base = slot(state.head, i), yi = G.y(i);
      for (let r = 0; r < K; r++) {
        const code = codes[base + r];
        if (!code) continue;
        if (weight(code) < state.threshold) { hidden++; continue; }
        const j = keys[base + r], yj = G.y(j);
        if (visible(G, yj, yi)) {
          const p = paths[Math.min(BUCKETS - 1, code >> 4)];
          p.moveTo(x0, yj); p.lineTo(x1, yi);
        }
        drawn++; sig = (Math.imul(sig, 31) + l * 65599 + i * 1031 + j * 7 + code) | 0;
      }
    }
    ctx.lineWidth = strong ? 1 : 0.6;
    paths.forEach((p, b) => {
      const a = (0.08 + 0.92 * (b + 0.5) / BUCKETS) * (strong ? (dim ? 0.3 : 1) : 0.18);
      ctx.strokeStyle = strong ? "rgba(37,99,235," + a + ")" : "rgba(71,84,103," + a + ")";
      ctx.stroke(p);
    });
    return { drawn, hidden, sig };
  }
  function drawFlow(G, F) {
    let count = 0;
    ctx.strokeStyle = "rgba(217,72,15,0.8)";
    F.edges.forEach((list, l) => list.forEach(([j, i, f]) => {
      ctx.lineWidth = 0.8 + 6 * Math.sqrt(f);
      ctx.beginPath(); ctx.moveTo(G.x(l), G.y(j)); ctx.lineTo(G.x(l + 1), G.y(i)); ctx.stroke();
      count++;
    }));
    ctx.strokeStyle = "#7a1f04"; ctx.lineWidth = 2.5; ctx.setLineDash([6, 3]);
    ctx.beginPath();
    F.path.forEach((t, d) => (d ? ctx.lineTo(G.x(d), G.y(t)) : ctx.moveTo(G.x(d), G.y(t))));
    ctx.stroke(); ctx.setLineDash([]);
    return count;
  }
  function drawNodes(G) {
    const rad = Math.max(1, Math.min(4, state.rowH * 0.35)), lab = state.layer < 0 ? L - 1 : state.layer;
    const t0 = Math.max(0, Math.floor((G.top - PAD) / state.rowH) - 1);
    const t1 = Math.min(n, Math.ceil((G.top + G.view) / state.rowH) + 1);
    for (let d = 0; d <= L; d++) for (let t = t0; t < t1; t++) {
      ctx.fillStyle = d ? colourOf(d - 1, t) : "#98a2b3";
      ctx.fillRect(G.x(d) - rad, G.y(t) - rad, 2 * rad, 2 * rad);
    }
    const font = Math.min(12, state.rowH - 1);
    ctx.font = font + "px ui-monospace, monospace"; ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (let t = t0; t < t1; t++) {
      ctx.fillStyle = colourOf(lab, t);
      ctx.fillRect(LABEL_W - 46, G.y(t) - state.rowH / 2 + 0.5, 40, Math.max(state.rowH - 1, 1));
      if (font < 7) continue;
      ctx.fillStyle = "#1d2330";
      ctx.fillText(D.tokens[t].slice(0, 10), LABEL_W - 50, G.y(t));
      ctx.textAlign = "left"; ctx.fillStyle = "#667085"; ctx.fillText(String(t), 2, G.y(t));
      ctx.textAlign = "right";
    }
    ctx.fillStyle = "rgba(255,255,255,0.85)"; ctx.fillRect(LABEL_W, G.top, G.width, PAD);
    ctx.textAlign = "center"; ctx.fillStyle = "#667085"; ctx.font = "11px system-ui";
    for (let d = 0; d <= L; d++) ctx.fillText(d ? "L" + (d - 1) : "in", G.x(d), G.top + PAD / 2 + 1);
  }
  function draw() {
    const G = geom();
    sizeCanvas(G);
    ctx.clearRect(0, G.top, G.width, G.view);
    const F = state.selected ? flows(state.selected.d, state.selected.t, state.head) : null;
    let drawn = 0, hidden = 0, sig = 0;
    for (let l = 0; l < L; l++) {
      const strong = state.layer < 0 || state.layer === l;
      if (!strong && !state.context) continue;
      const r = drawEdges(G, l, strong, !!F);
      if (strong) { drawn += r.drawn; hidden += r.hidden; sig = (Math.imul(sig, 17) + r.sig) | 0; }
    }
    const pathEdges = F ? drawFlow(G, F) : 0;
    drawNodes(G);
    last = { drawn, hidden, signature: sig >>> 0, pathEdges };
    canvas.dataset.drawn = drawn; canvas.dataset.signature = last.signature;
    canvas.dataset.pathEdges = pathEdges;
    updateStats(); updatePanel(F);
  }
  let pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; draw(); });
  }

  // ---- text: stats line and side panel ------------------------------------------------------
  const pct = (x) => (100 * x).toFixed(x < 0.1 ? 2 : 1) + "%";
  const fmt = (v) => (v === null || v === undefined || !Number.isFinite(v) ? "–"
    : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toPrecision(4));
  function headName(s) { return s === H ? "head-mean" : "head " + s; }
  function edgeTotals(layers) {
    let nz = 0, kept = 0, mass = 0;
    layers.forEach((l) => {
      nz += D.edge_stats.nonzero[l][state.head]; kept += D.edge_stats.kept[l][state.head];
      mass += D.edge_stats.mass[l][state.head];
    });
    return { nz, kept, mass: mass / layers.length };
  }
  function updateStats() {
    const layers = state.layer < 0 ? [...Array(L).keys()] : [state.layer];
    const T = edgeTotals(layers);
    $("stats").textContent = (state.layer < 0 ? "all layers" : "layer " + state.layer) + ", " +
      headName(state.head) + ": drawing " + last.drawn + " edges; threshold " +
      state.threshold.toPrecision(2) + " hides " + last.hidden + "; top-" + K +
      " per query keeps " + T.kept + " of " + T.nz + " non-zero edges (" +
      (T.nz - T.kept) + " dropped, " + pct(T.mass) + " of attention mass shown)" +
      (last.pathEdges ? "; " + last.pathEdges + " path edges highlighted" : "");
  }
  function panelTable() {
    const per = D.panel.per_head, s = per ? state.head : 0;
    $("panel-scope").textContent = "(" + (per ? headName(state.head) : "head-mean") +
      " graph, (W + Wᵀ)/2)";
    const names = D.panel.names;
    let html = "<tr><th>layer</th>" + names.map(([k, label]) =>
      "<th title='" + label + "'>" + label.split(" (")[0].replace("balanced Forman ", "") +
      "</th>").join("") + "</tr>";
    for (let l = 0; l < L; l++) {
      html += "<tr data-layer='" + l + "'" + (l === state.layer ? " class='current'" : "") +
        "><td>L" + l + "</td>" + names.map(([k]) =>
        "<td>" + (k in D.unavailable ? "n/a" : fmt(D.panel.values[k][l][s])) + "</td>").join("") +
        "</tr>";
    }
    $("panel-layers").innerHTML = html;
  }
  function legend() {
    const box = $("legend");
    if (state.colour < 0) { box.textContent = "no colouring"; $("quantity-note").textContent = ""; return; }
    const q = QS[state.colour], r = qRange(q), c = document.createElement("canvas");
    c.width = 200; c.height = 12;
    const g = c.getContext("2d");
    for (let x = 0; x < 200; x++) { g.fillStyle = viridis(x / 199); g.fillRect(x, 0, 1, 12); }
    const end = (v) => fmt(q.scale === "log" ? Math.pow(10, v) : v);
    box.innerHTML = "";
    box.appendChild(c);
    box.insertAdjacentHTML("beforeend", "<div class='ends'><span>" + end(r.lo) + "</span><span>" +
      q.label + (q.scale === "log" ? " (log)" : "") + "</span><span>" + end(r.hi) + "</span></div>");
    $("quantity-note").textContent = q.note + (q.rows > 1 ? " — " + headName(state.head) : " — head-mean") +
      ". Node in column Lk: value of layer k; label strip: selected layer. Grey: undefined.";
  }
  function escape(s) { return s.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]); }
  function tokenPanel(F) {
    if (!state.selected || !F) { return; }
    const { d, t } = state.selected;
    const order = [...F.sources.keys()].sort((a, b) => F.sources[b] - F.sources[a]).slice(0, 8);
    const lay = Math.max(d - 1, 0);
    $("panel-token").innerHTML = "<b>" + escape(D.tokens[t]) + "</b> (position " + t +
      ", depth " + d + (d ? " = output of layer " + (d - 1) : "") + ", " + headName(state.head) +
      ")<br>Strongest sources at the input (rollout share, ρ = " + RHO + "):<ol>" +
      order.map((j) => "<li>" + escape(D.tokens[j]) + " @" + j + ": " + pct(F.sources[j]) + "</li>").join("") +
      "</ol>Strongest single path (dashed): " + F.path.map((j) => escape(D.tokens[j]) + "@" + j).join(" → ") +
      " (product " + fmt(F.pathWeight) + ")<br>" + QS.map((q) => q.label + " (L" + lay + "): " +
      fmt(qValue(q, lay, t))).join("<br>");
  }
  function updatePanel(F) {
    panelTable(); legend(); tokenPanel(F);
    if (!state.selected) {
      $("panel-token").textContent = "Click a token (a label or a node) to highlight its strongest incoming paths.";
    }
  }
  function droppedList() {
    let nz = 0, kept = 0;
    for (let l = 0; l < L; l++) for (let s = 0; s <= H; s++) { nz += D.edge_stats.nonzero[l][s]; kept += D.edge_stats.kept[l][s]; }
    const items = ["Each query keeps its " + K + " strongest keys per head and for the head-mean: " +
      (nz - kept) + " of " + nz + " non-zero edges (" + pct(nz ? (nz - kept) / nz : 0) +
      ") are not stored; weights below 1.5e-5 are stored as zero.",
      "Paths and flows use only the stored edges, with residual share ρ = " + RHO + "."];
    Object.entries(D.unavailable).forEach(([k, why]) => items.push(k.replace(/_/g, " ") + ": " + why));
    $("dropped").innerHTML = items.map((s) => "<li>" + escape(s) + "</li>").join("");
  }

  // ---- interaction ----------------------------------------------------------------------
  function hit(ev) {
    const G = geom(), rect = canvas.getBoundingClientRect();
    const x = ev.clientX - rect.left, y = ev.clientY - rect.top + scroller.scrollTop;
    const t = Math.floor((y - PAD) / state.rowH);
    if (t < 0 || t >= n) return null;
    const d = x < LABEL_W ? L : Math.min(L, Math.max(0, Math.round((x - G.x(0)) / G.colW)));
    return { d, t };
  }
  function nodePoint(d, t) {
    const G = geom(), rect = canvas.getBoundingClientRect();
    return { x: rect.left + G.x(d), y: rect.top + G.y(t) - scroller.scrollTop };
  }
  function options(select, items) {
    select.innerHTML = items.map(([v, label]) => "<option value='" + v + "'>" + escape(label) + "</option>").join("");
  }
  function init() {
    options($("layer"), [[-1, "all layers"]].concat([...Array(L).keys()].map((l) => [l, "layer " + l])));
    options($("head"), [[H, "mean of " + H + " heads"]].concat([...Array(H).keys()].map((h) => [h, "head " + h])));
    options($("colour"), [[-1, "none"]].concat(QS.map((q, k) => [k, q.label])));
    $("layer").value = state.layer; $("head").value = state.head; $("colour").value = state.colour;
    $("zoom").value = state.rowH; $("context").checked = state.context;
    $("layer").onchange = (e) => { state.layer = +e.target.value; redraw(); };
    $("head").onchange = (e) => { state.head = +e.target.value; redraw(); };
    $("colour").onchange = (e) => { state.colour = +e.target.value; redraw(); };
    $("context").onchange = (e) => { state.context = e.target.checked; redraw(); };
    $("zoom").oninput = (e) => { state.rowH = +e.target.value; redraw(); };
    $("threshold").oninput = (e) => {
      const s = +e.target.value / 100; state.threshold = s * s;
      $("threshold-value").textContent = state.threshold.toPrecision(2); redraw();
    };
    canvas.onclick = (ev) => {
      const h = hit(ev);
      const same = h && state.selected && h.d === state.selected.d && h.t === state.selected.t;
      state.selected = !h || same ? null : h; redraw();
    };
    canvas.onmousemove = (ev) => {
      const h = hit(ev), tip = $("tooltip");
      if (!h) { tip.hidden = true; return; }
      const lay = h.d ? h.d - 1 : Math.max(state.layer, 0);
      tip.textContent = JSON.stringify(D.tokens[h.t]) + " @" + h.t + ", depth " + h.d + "\n" +
        QS.map((q) => q.label + " (L" + lay + "): " + fmt(qValue(q, lay, h.t))).join("\n");
      tip.style.left = ev.clientX + 14 + "px"; tip.style.top = ev.clientY + 10 + "px"; tip.hidden = false;
    };
    canvas.onmouseleave = () => { $("tooltip").hidden = true; };
    window.addEventListener("resize", redraw);
    scroller.addEventListener("scroll", redraw, { passive: true });
    droppedList(); draw();
  }
  window.tgnnExplorer = {
    data: D, state, draw, nodePoint, flows, summary: () => Object.assign({}, last),
  };
  init();
})();
