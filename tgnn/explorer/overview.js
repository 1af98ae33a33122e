// tgnn explorer, part 3 of 6: the overview (heatmap of the stored edges of one layer and slot,
// query rows x key columns, each pixel the mean mass a query of its rows gives its keys) and
// the per-position profiles below it. Drag on either to choose the detail window.
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const HEAT_FLOOR = -4;  // log10 of the lightest weight the heatmap colours
const HEAT_MAX = 320;  // px: the heatmap's side (bins of n / 320 tokens)
function viridisRGB(u) {
  const x = Math.min(Math.max(u, 0), 1) * (VIRIDIS.length - 1), k = Math.min(Math.floor(x), 3);
  const f = x - k, a = VIRIDIS[k], b = VIRIDIS[k + 1];
  return [0, 1, 2].map((c) => Math.round(a[c] + f * (b[c] - a[c])));
}
function viridis(u) { return "rgb(" + viridisRGB(u).join(",") + ")"; }
const LUT = new Uint8Array(256 * 3);  // viridis at 256 levels, for images
for (let k = 0; k < 256; k++) LUT.set(viridisRGB(k / 255), 3 * k);

function fitCanvas(canvas, width, height) {
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr); canvas.height = Math.round(height * dpr);
    canvas.style.width = width + "px"; canvas.style.height = height + "px";
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

// The heatmap image of one layer and slot at B x B bins (the last few kept), and its total.
const heat = { cache: new Map() };
function heatImage(l, s, B) {
  const key = l + "," + s + "," + B;
  if (heat.cache.has(key)) return heat.cache.get(key);
  const bins = new Float32Array(B * B), keys = KEYS[l], w = WEIGHTS[l], per = n / B;
  for (let i = 0; i < n; i++) {
    const row = Math.floor(i / per) * B, base = slotOf(s, i);
    for (let r = 0; r < K; r++) if (w[base + r] > 0) bins[row + Math.floor(keys[base + r] / per)] += w[base + r];
  }
  const rows = Math.max(per, 1);  // mean mass one query of the row bin gives the key bin
  const off = document.createElement("canvas");
  off.width = B; off.height = B;
  const g = off.getContext("2d"), img = g.createImageData(B, B);
  let total = 0;
  for (let b = 0; b < bins.length; b++) {
    const v = bins[b] / rows, o = 4 * b;
    total += bins[b];
    img.data[o + 3] = 255;
    if (!(v > 0)) { img.data[o] = img.data[o + 1] = img.data[o + 2] = 255; continue; }
    const k = 3 * Math.round(255 * Math.min(1, Math.max(0, (Math.log10(v) - HEAT_FLOOR) / -HEAT_FLOOR)));
    img.data[o] = LUT[k]; img.data[o + 1] = LUT[k + 1]; img.data[o + 2] = LUT[k + 2];
  }
  g.putImageData(img, 0, 0);
  if (heat.cache.size > 8) heat.cache.delete(heat.cache.keys().next().value);
  heat.cache.set(key, { off, total });
  return heat.cache.get(key);
}
function drawHeatmap() {
  const canvas = $("overview"), size = Math.min(HEAT_MAX, canvas.parentElement.clientWidth - 2);
  const ctx = fitCanvas(canvas, size, size), B = Math.min(n, Math.floor(size));
  const image = heatImage(state.layer, state.head, B);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, size, size);
  ctx.drawImage(image.off, 0, 0, size, size);
  const x = (t) => (t / n) * size, [a, b] = state.window;
  ctx.fillStyle = "rgba(217,72,15,0.12)";
  ctx.fillRect(x(a), 0, x(b) - x(a), size); ctx.fillRect(0, x(a), size, x(b) - x(a));
  ctx.strokeStyle = "#d9480f"; ctx.lineWidth = 1.5;
  ctx.strokeRect(x(a), x(a), Math.max(x(b) - x(a), 2), Math.max(x(b) - x(a), 2));
  if (state.selected !== null) {
    ctx.strokeStyle = "rgba(122,31,4,0.8)"; ctx.lineWidth = 1;
    const y = x(state.selected + 0.5);
    ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(size, y); ctx.stroke();
  }
  return image.total;  // the drawn mass of all rows
}

// Profiles: one chart per quantity, x = position (same axis as the heatmap's keys).
const PROFILE_H = 40, PROFILE_GAP = 5;
function profileList() { return ROWS.concat([RESISTANCE], PROFILES); }
function drawProfiles() {
  $("profiles-scope").textContent = "layer " + state.layer + ", " + headName(state.head);
  $("profiles-missing").textContent = Object.entries(D.unavailable).filter(([k]) => k !== "panel")
    .map(([k, why]) => k.replace(/_/g, " ") + ": " + why).join("; ");
  const canvas = $("profiles"), width = canvas.parentElement.clientWidth - 2;
  const list = profileList(), height = list.length * (PROFILE_H + PROFILE_GAP);
  const ctx = fitCanvas(canvas, width, height), x = (t) => (t / n) * width;
  ctx.clearRect(0, 0, width, height);
  ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "top";
  list.forEach((q, k) => {
    const top = k * (PROFILE_H + PROFILE_GAP), values = series(q, state.layer, state.head);
    const r = finiteRange(q, [values]), y = (v) => top + 14 + (1 - (v - r.lo) / (r.hi - r.lo)) * (PROFILE_H - 16);
    ctx.fillStyle = "#f8f9fb"; ctx.fillRect(0, top, width, PROFILE_H);
    ctx.fillStyle = "rgba(217,72,15,0.12)";
    ctx.fillRect(x(state.window[0]), top, x(state.window[1]) - x(state.window[0]), PROFILE_H);
    const err = q.kind === "profile" ? stderrSeries(q, state.layer) : null;
    envelope(ctx, values, err, q, width, y);
    ctx.fillStyle = "#1d2330"; ctx.textAlign = "left";
    ctx.fillText(q.label + (q.scale === "log" ? " (log)" : "") + (q.kind === "profile" ? ", head-mean" : ""), 4, top + 1);
    ctx.textAlign = "right"; ctx.fillStyle = "#667085";
    const end = (v) => fmt(q.scale === "log" ? Math.pow(10, v) : v);
    ctx.fillText(end(r.lo) + " … " + end(r.hi), width - 4, top + 1);
    if (state.selected !== null) {
      ctx.strokeStyle = "rgba(122,31,4,0.8)"; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(x(state.selected + 0.5), top); ctx.lineTo(x(state.selected + 0.5), top + PROFILE_H); ctx.stroke();
    }
  });
}
// Per pixel column: the range (min..max) of its positions, and their mean as a line.
function envelope(ctx, values, err, q, width, y) {
  const cols = Math.min(width, n), per = n / cols, mean = new Float64Array(cols);
  ctx.fillStyle = "rgba(37,99,235,0.25)";
  for (let c = 0; c < cols; c++) {
    let lo = Infinity, hi = -Infinity, sum = 0, count = 0;
    for (let t = Math.floor(c * per); t < Math.max(Math.floor((c + 1) * per), Math.floor(c * per) + 1); t++) {
      const v = transform(q, values[t]);
      if (!Number.isFinite(v)) continue;
      const e = err ? Math.abs(transform(q, values[t] + err[t]) - v) : 0;
      lo = Math.min(lo, v - e); hi = Math.max(hi, v + e); sum += v; count++;
    }
    mean[c] = count ? sum / count : NaN;
    if (count) ctx.fillRect((c * width) / cols, y(hi), Math.max(width / cols, 1), Math.max(y(lo) - y(hi), 1));
  }
  ctx.strokeStyle = "#2563eb"; ctx.lineWidth = 1; ctx.beginPath();
  let open = false;
  for (let c = 0; c < cols; c++) {
    if (!Number.isFinite(mean[c])) { open = false; continue; }
    const px = ((c + 0.5) * width) / cols;
    if (open) ctx.lineTo(px, y(mean[c])); else ctx.moveTo(px, y(mean[c]));
    open = true;
  }
  ctx.stroke();
}
function positionAt(canvas, ev) {
  const rect = canvas.getBoundingClientRect();
  return Math.min(n - 1, Math.max(0, Math.floor(((ev.clientX - rect.left) / rect.width) * n)));
}
function brushable(canvas) {
  let start = null;
  canvas.addEventListener("mousedown", (ev) => { start = positionAt(canvas, ev); ev.preventDefault(); });
  window.addEventListener("mouseup", (ev) => {
    if (start === null) return;
    const end = positionAt(canvas, ev), from = Math.min(start, end), to = Math.max(start, end) + 1;
    start = null;
    if (to - from < 3) { select(end, L); centreWindow(end); } else setWindow(from, to);
  });
  canvas.addEventListener("mousemove", (ev) => {
    const t = positionAt(canvas, ev), tip = $("tooltip");
    tip.textContent = JSON.stringify(D.tokens[t]) + " @" + t + "\n" + profileList().map((q) =>
      q.label + ": " + fmt(series(q, state.layer, state.head)[t])).join("\n");
    tip.style.left = ev.clientX + 14 + "px"; tip.style.top = ev.clientY + 10 + "px"; tip.hidden = false;
  });
  canvas.addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
}
