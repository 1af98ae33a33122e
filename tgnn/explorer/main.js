// tgnn explorer, part 6 of 6: state, controls, text panels and the testing API
// (window.tgnnExplorer: state(), find(text), select(t), setWindow(a, b), labels(), summary()).
const state = {
  layer: 0, head: H, grid: 0, colour: 0, threshold: 0, context: false,
  window: [Math.max(0, n - 32), n], selected: n - 1, depth: L,
};
// what the last draw did; latency: ms from the user's event to the end of the redraw it caused
let last = { drawn: 0, hidden: 0, signature: 0, pathEdges: 0, heatmapMass: 0, drawMs: 0, latency: 0 };

const pct = (x) => (100 * x).toFixed(x < 0.1 ? 2 : 1) + "%";
const fmt = (v) => (v === Infinity ? "∞" : v === null || v === undefined || !Number.isFinite(v) ? "–"
  : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toPrecision(4));
function escapeHtml(s) { return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]); }

function windowRows() {
  const rows = Math.floor(($("scroller").clientHeight - 2 * PAD) / ROW_MIN) - 1;
  return Math.max(8, Math.min(n, rows));
}
function setWindow(a, b) {
  a = Math.max(0, Math.min(n - 1, Math.floor(a))); b = Math.max(a + 1, Math.min(n, Math.ceil(b)));
  state.window = [a, b]; redraw();
  return state.window.slice();
}
function shiftWindow(direction) {  // by one window, keeping its size
  const size = state.window[1] - state.window[0];
  const a = Math.max(0, Math.min(n - size, state.window[0] + direction * size));
  return setWindow(a, a + size);
}
function centreWindow(t) {
  const size = state.window[1] - state.window[0], a = Math.max(0, Math.min(n - size, t - Math.floor(size / 2)));
  return setWindow(a, a + size);
}
function select(t, d) {
  state.selected = t === null ? null : Math.max(0, Math.min(n - 1, t));
  state.depth = d === undefined ? L : d; redraw();
}
function find(query) {
  const text = String(query).trim(), lower = text.toLowerCase();
  // a token equal to the text, else the position it names, else tokens containing it
  let matches = D.tokens.flatMap((tok, t) => (tok === text ? [t] : []));
  if (!matches.length && /^\d+$/.test(text) && +text < n) matches = [+text];
  if (!matches.length && text) matches = D.tokens.flatMap((tok, t) => (tok.toLowerCase().includes(lower) ? [t] : []));
  const out = $("find-result");
  if (!matches.length) { out.textContent = "no token matches " + JSON.stringify(text); return null; }
  const t = matches[0];
  state.selected = t; state.depth = L; centreWindow(t); draw();
  out.textContent = matches.length + (matches.length > 1 ? " matches; showing the first," : " match:") +
    " position " + t;
  return { t, token: D.tokens[t], matches: matches.length, label: label(t) };
}
function label(t) { const hit = drawnLabels.find((x) => x.t === t); return hit ? hit.text : null; }

function drawnMassText() {
  const q = ROWS.find((r) => r.key === "drawn_mass"), v = series(q, state.layer, state.head);
  let sum = 0, lo = Infinity, at = 0, wsum = 0;
  for (let t = 0; t < n; t++) { sum += v[t]; if (v[t] < lo) { lo = v[t]; at = t; } }
  for (let t = state.window[0]; t < state.window[1]; t++) wsum += v[t];
  return "top-" + K + " keys per query keep " + pct(sum / n) + " of each row's attention on average (lowest " +
    pct(lo) + " at position " + at + "; in the window " + pct(wsum / (state.window[1] - state.window[0])) + ")";
}
function updateText(F) {
  const [a, b] = state.window;
  $("stats").textContent = "Layer " + state.layer + ", " + headName(state.head) + ": " + drawnMassText() +
    ". Detail: tokens " + a + "–" + (b - 1) + " of " + n + ", drawing " + last.drawn + " edges" +
    (last.hidden ? " (threshold " + state.threshold.toPrecision(2) + " hides " + last.hidden + ")" : "") +
    (last.pathEdges ? "; " + last.pathEdges + " flow edges into the selected token" : "") + ".";
  $("window-label").textContent = a + "–" + (b - 1);
  tokenPanel(F); legend(); panelTable();
}
function tokenPanel(F) {
  const box = $("panel-token");
  if (state.selected === null || !F) { box.textContent = "Click a token to select it."; return; }
  const t = state.selected, l = state.layer;
  const order = [...F.sources.keys()].sort((x, y) => F.sources[y] - F.sources[x]).slice(0, 6);
  box.innerHTML = "<b id='selected-label'>" + escapeHtml(D.tokens[t]) + "</b> (position " + t + ", depth " +
    state.depth + ", " + headName(state.head) + ")<br>" +
    profileList().map((q) => escapeHtml(q.label) + " (L" + l + "): " +
      fmt(series(q, l, q.kind === "profile" ? 0 : state.head)[t]) +
      (q.stderr ? " ± " + fmt(stderrSeries(q, l)[t]) : "")).join("<br>") +
    "<br>Strongest inputs by rollout share through the drawn edges (ρ = " + RHO + "):<ol>" +
    order.map((j) => "<li>" + escapeHtml(D.tokens[j]) + " @" + j + ": " + pct(F.sources[j]) + "</li>").join("") +
    "</ol>Strongest single path (dashed): " + F.path.map((j) => escapeHtml(D.tokens[j]) + "@" + j).join(" → ");
}
function legend() {
  const q = colourQuantity(), box = $("legend");
  if (!q) { box.textContent = "no colouring"; return; }
  const r = colourRange(q), c = document.createElement("canvas");
  c.width = 200; c.height = 10;
  const g = c.getContext("2d");
  for (let x = 0; x < 200; x++) { g.fillStyle = viridis(x / 199); g.fillRect(x, 0, 1, 10); }
  const end = (v) => fmt(q.scale === "log" ? Math.pow(10, v) : v);
  box.innerHTML = "";
  box.appendChild(c);
  box.insertAdjacentHTML("beforeend", "<div class='ends'><span>" + end(r.lo) + "</span><span>" +
    escapeHtml(q.label) + (q.scale === "log" ? " (log)" : "") + "</span><span>" + end(r.hi) + "</span></div>" +
    "<p class='note'>" + escapeHtml(q.note) + ". Node in column Lk: its value at layer k; label strip: " +
    "the selected layer. Grey: undefined.</p>");
}
function panelTable() {
  const box = $("panel-layers");
  if (!D.panel) { box.innerHTML = "<tr><td>" + escapeHtml(D.unavailable.panel || "not computed") + "</td></tr>"; return; }
  const names = D.panel.names;
  box.innerHTML = "<tr><th>layer</th>" + names.map(([, lab]) => "<th title='" + escapeHtml(lab) + "'>" +
    escapeHtml(lab.split(" (")[0].replace("balanced Forman ", "")) + "</th>").join("") + "</tr>" +
    [...Array(L).keys()].map((l) => "<tr" + (l === state.layer ? " class='current'" : "") + "><td>L" + l +
      "</td>" + names.map(([k]) => "<td>" + fmt(D.panel.values[k][l]) + "</td>").join("") + "</tr>").join("");
}
function shownList() {
  const items = [
    (D.source === "sparse" ? "Built from a sparse capture (tgnn.capture_sparse_graphs): no n × n matrix was " +
      "held; entropy, first-token mass and sink mass are exact (from the full rows)." :
      "Built from dense attention matrices."),
    "Each query keeps its " + K + " strongest keys per head and for the head-mean; the drawn-mass " +
      "profile and the line above say how much of each row that is (the rest is not drawn).",
    "Head-mean slot: edges and drawn mass of the mean attention row; entropy there is the mean of " +
      "the heads' row entropies." + (D.source === "sparse" ? " Its top-" + K + " is taken among the union " +
      "of the heads' top-" + K + " keys." : ""),
    "Heatmap: mean attention a query of each row bin gives each key bin, log colour from 1e-4; " +
      "white: nothing stored.",
    RESISTANCE.note + "; rollout and flows use residual share ρ = " + RHO + " and only the drawn edges.",
  ];
  PROFILES.forEach((q) => items.push(q.label + ": " + q.note));
  Object.entries(D.unavailable).forEach(([k, why]) => items.push(k.replace(/_/g, " ") + ": " + why));
  $("shown").innerHTML = items.map((s) => "<li>" + escapeHtml(s) + "</li>").join("");
}

function draw() {
  const parts = {}, start = performance.now();
  let t = start;
  const lap = (name) => { const now = performance.now(); parts[name] = now - t; t = now; };
  const F = state.selected === null ? null : flows(state.depth, state.selected, state.head);
  lap("flows");
  const mass = drawHeatmap();
  lap("heatmap");
  drawProfiles(); lap("profiles");
  drawGrid(); lap("grid");
  last = Object.assign(drawDetail(F), { heatmapMass: mass });
  lap("detail");
  updateText(F); lap("text");
  last.drawMs = performance.now() - start;
  last.parts = parts;
  if (since !== null) { latency = performance.now() - since; since = null; }
  last.latency = latency;
  $("detail").dataset.drawn = last.drawn;
}
// since: when the first event behind the pending redraw happened; latency: of the last one
let pending = false, since = null, latency = 0;
function redraw() {
  const now = performance.now(), ev = window.event;
  const stamp = ev && ev.timeStamp > 0 && ev.timeStamp <= now ? ev.timeStamp : now;
  since = since === null ? stamp : Math.min(since, stamp);
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; draw(); });
}
function options(select, items) {
  select.innerHTML = items.map(([v, lab]) => "<option value='" + v + "'>" + escapeHtml(lab) + "</option>").join("");
}
function init() {
  options($("layer"), [...Array(L).keys()].map((l) => [l, "layer " + l]));
  options($("head"), [[H, "mean of " + H + " heads"]].concat([...Array(H).keys()].map((h) => [h, "head " + h])));
  const quantities = profileList().map((q, k) => [k, q.label]);
  options($("grid-q"), quantities);
  options($("colour"), [[-1, "none"]].concat(quantities));
  $("layer").value = state.layer; $("head").value = state.head; $("grid-q").value = state.grid;
  $("colour").value = state.colour;
  $("layer").onchange = (e) => { state.layer = +e.target.value; redraw(); };
  $("head").onchange = (e) => { state.head = +e.target.value; redraw(); };
  $("grid-q").onchange = (e) => { state.grid = +e.target.value; redraw(); };
  $("colour").onchange = (e) => { state.colour = +e.target.value; redraw(); };
  $("context").onchange = (e) => { state.context = e.target.checked; redraw(); };
  $("threshold").oninput = (e) => {
    const s = +e.target.value / 100; state.threshold = s * s;
    $("threshold-value").textContent = state.threshold.toPrecision(2); redraw();
  };
  $("find").onkeydown = (e) => { if (e.key === "Enter") find(e.target.value); };
  $("find-go").onclick = () => find($("find").value);
  $("prev").onclick = () => shiftWindow(-1);
  $("next").onclick = () => shiftWindow(1);
  $("detail").onclick = (ev) => {
    const h = detailHit(ev);
    if (h && h.t === state.selected && h.d === state.depth) select(null); else if (h) select(h.t, h.d);
  };
  $("grid").onclick = (ev) => {
    const h = gridHit(ev);
    if (!h) return;
    state.layer = h.l; state.head = h.s; $("layer").value = h.l; $("head").value = h.s; redraw();
  };
  brushable($("overview")); brushable($("profiles"));
  window.addEventListener("resize", redraw);
  const size = n <= 64 ? n : windowRows();  // short inputs: every token (the view scrolls)
  state.window = [Math.max(0, n - size), n];
  shownList(); draw();
}
window.tgnnExplorer = {
  data: D, find, select, setWindow, label, nodePoint, gridPoint, flows, absorbing, draw,
  state: () => Object.assign({}, state, { window: state.window.slice() }),
  labels: () => drawnLabels.map((x) => Object.assign({}, x)),
  summary: () => Object.assign({}, last),
  series: (key, l, s) => Array.from(series(profileList().find((q) => q.key === key), l, s)),
};
init();
