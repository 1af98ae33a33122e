// tgnn explorer, part 1 of 6: the payload embedded in #tgnn-data (tgnn/explorer/payload.py).
// Edges of layer l, slot s (heads 0..H-1, then the head-mean at s = H), query i: K keys and
// float16 weights at [(s * n + i) * K + r], strongest first, weight 0 = no edge.
const D = JSON.parse(document.getElementById("tgnn-data").textContent);
const n = D.n, L = D.layers, H = D.heads, S = H + 1, K = D.top_k, RHO = D.rho;
const $ = (id) => document.getElementById(id);

function bytes(b64) {
  const bin = atob(b64), out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function halfToFloat(h) {
  const sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, f = h & 1023;
  if (e === 0) return sign * f * Math.pow(2, -24);
  if (e === 31) return f ? NaN : sign * Infinity;
  return sign * (1 + f / 1024) * Math.pow(2, e - 15);
}
const HALF = new Float32Array(65536);
for (let h = 0; h < 65536; h++) HALF[h] = halfToFloat(h);
function float32(b64) { return new Float32Array(bytes(b64).buffer); }

const KEYS = D.edges.map((e) => new Uint16Array(bytes(e.keys).buffer));
const WEIGHTS = D.edges.map((e) => {
  const half = new Uint16Array(bytes(e.weights).buffer), out = new Float32Array(half.length);
  for (let i = 0; i < half.length; i++) out[i] = HALF[half[i]];
  return out;
});
// per layer, slot and position: [L, S, n]
const ROWS = D.rows.map((q) => Object.assign({}, q, { kind: "row", values: float32(q.data) }));
// per layer and position: [L, n]
const PROFILES = D.profiles.map((q) => Object.assign({}, q, {
  kind: "profile", values: float32(q.data), stderr: q.stderr ? float32(q.stderr) : null,
}));
const RESISTANCE = {
  key: "resistance", kind: "computed", scale: "log",
  label: "resistance from selected token",
  note: "absorbing-walk resistance R_abs(s, t) of this layer's drawn edges (rho = 1), from " +
    "the selected token t to every earlier token s (causal attention only)",
};

function slotOf(s, i) { return (s * n + i) * K; }
function rowValue(q, l, s, t) { return q.values[(l * S + s) * n + t]; }
function headName(s) { return s === H ? "head-mean" : "head " + s; }
