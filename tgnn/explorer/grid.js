// tgnn explorer, part 4 of 6: small multiples, one cell per layer (row) and slot (column: heads,
// then the head-mean), each a profile of the chosen quantity over positions on one shared
// scale, its background the cell's mean. Click a cell to pick that layer and head.
const GRID_LEFT = 26, GRID_TOP = 16;
function gridGeometry(width) {
  const cellW = Math.max(12, Math.floor((width - GRID_LEFT) / S));
  const cellH = Math.max(18, Math.min(44, Math.round(cellW * 0.6)));
  return { cellW, cellH, width: GRID_LEFT + S * cellW, height: GRID_TOP + L * cellH };
}
function gridQuantity() { return profileList()[state.grid]; }
// Per cell: its mean and its per-pixel maxima on the shared scale (cached per quantity/target).
const gridCache = { key: null, cells: null };
function gridCells(q, cols) {
  const perLayer = q.kind === "profile", target = q.kind === "computed" ? String(state.selected) : "";
  const key = q.key + "|" + cols + "|" + target;
  if (gridCache.key === key) return gridCache.cells;
  const values = [];
  for (let l = 0; l < L; l++) for (let s = 0; s < S; s++) values.push(series(q, l, perLayer ? 0 : s));
  const r = finiteRange(q, values), per = n / cols, cells = values.map((v) => {
    const line = new Float32Array(cols).fill(NaN);
    let sum = 0, count = 0;
    for (let c = 0; c < cols; c++) {
      let hi = -Infinity;
      for (let t = Math.floor(c * per); t < Math.max(Math.floor((c + 1) * per), Math.floor(c * per) + 1) && t < n; t++) {
        const u = (transform(q, v[t]) - r.lo) / (r.hi - r.lo);
        if (Number.isFinite(u)) { if (u > hi) hi = u; sum += v[t]; count++; }
      }
      if (hi > -Infinity) line[c] = hi;
    }
    const mean = count ? sum / count : NaN;
    return { line, mean, u: (transform(q, mean) - r.lo) / (r.hi - r.lo) };
  });
  gridCache.key = key; gridCache.cells = { range: r, cells };
  return gridCache.cells;
}
function drawGrid() {
  const canvas = $("grid"), G = gridGeometry(canvas.parentElement.clientWidth - 2);
  const ctx = fitCanvas(canvas, G.width, G.height), q = gridQuantity(), perLayer = q.kind === "profile";
  const cols = G.cellW - 4, { range: r, cells } = gridCells(q, cols);
  ctx.clearRect(0, 0, G.width, G.height);
  ctx.font = "10px system-ui, sans-serif"; ctx.fillStyle = "#667085"; ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (let s = 0; s < S; s++) ctx.fillText(s === H ? "mean" : "h" + s, GRID_LEFT + (s + 0.5) * G.cellW, GRID_TOP / 2);
  ctx.textAlign = "right";
  for (let l = 0; l < L; l++) ctx.fillText("L" + l, GRID_LEFT - 4, GRID_TOP + (l + 0.5) * G.cellH);
  for (let l = 0; l < L; l++) for (let s = 0; s < S; s++) {
    const cell = cells[l * S + s], x0 = GRID_LEFT + s * G.cellW, y0 = GRID_TOP + l * G.cellH;
    const [R, Gc, B] = Number.isFinite(cell.u) ? viridisRGB(cell.u) : [208, 213, 221];
    ctx.fillStyle = "rgba(" + R + "," + Gc + "," + B + ",0.35)";
    ctx.fillRect(x0 + 1, y0 + 1, G.cellW - 2, G.cellH - 2);
    ctx.strokeStyle = "#1d2330"; ctx.lineWidth = 1; ctx.beginPath();
    let open = false;
    for (let c = 0; c < cols; c++) {
      if (!Number.isFinite(cell.line[c])) { open = false; continue; }
      const px = x0 + 2 + c, py = y0 + G.cellH - 3 - cell.line[c] * (G.cellH - 6);
      if (open) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      open = true;
    }
    ctx.stroke();
    if (l === state.layer && (perLayer || s === state.head)) {
      ctx.strokeStyle = "#d9480f"; ctx.lineWidth = 2; ctx.strokeRect(x0 + 1, y0 + 1, G.cellW - 2, G.cellH - 2);
    }
  }
  const end = (v) => fmt(q.scale === "log" ? Math.pow(10, v) : v);
  $("grid-scale").textContent = q.label + (q.scale === "log" ? " (log)" : "") + ": shared scale " +
    end(r.lo) + " … " + end(r.hi) + "; each line: per-pixel maximum over positions" +
    (perLayer ? " (head-mean only: one value per layer)" : "") + "; cell colour: mean over positions.";
  return cells.map((c) => c.mean);
}
function gridHit(ev) {
  const canvas = $("grid"), rect = canvas.getBoundingClientRect(), G = gridGeometry(canvas.parentElement.clientWidth - 2);
  const s = Math.floor((ev.clientX - rect.left - GRID_LEFT) / G.cellW), l = Math.floor((ev.clientY - rect.top - GRID_TOP) / G.cellH);
  return s >= 0 && s < S && l >= 0 && l < L ? { l, s } : null;
}
function gridPoint(l, s) {
  const canvas = $("grid"), rect = canvas.getBoundingClientRect(), G = gridGeometry(canvas.parentElement.clientWidth - 2);
  return { x: rect.left + GRID_LEFT + (s + 0.5) * G.cellW, y: rect.top + GRID_TOP + (l + 0.5) * G.cellH };
}
