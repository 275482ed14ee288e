// The static page of one exported generator: Sample, Interpolate, Directions, About. ONNX Runtime Web on
// single-threaded WebAssembly (no special server headers needed), everything served from this folder.
import { latents } from "./latent.js";

const $ = (id) => document.getElementById(id);
let ROW = 8; // images per ONNX Runtime call: a slow model's grid appears row by row (4 at a time if slow)
const SIZES = [1, 4, 8, 16, 32, 64];
const FIRST_GRID_MS = 1500; // what the first grid may cost on this device
const MAX_SCALE = 8;

const facts = await (await fetch("facts.json")).json();
const directions = facts.directions ? await (await fetch(facts.directions)).json() : null;
const [C, H, W] = facts.image_shape;
const [LO, HI] = facts.pixel_range;
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = "./";
const session = await ort.InferenceSession.create(facts.model, { executionProviders: ["wasm"] });
const inputName = session.inputNames[0];
const outputName = session.outputNames[0];
const CLASSES = facts.classes || []; // a class-conditional model's classes (none for an unconditional one)
const K = CLASSES.length;

// One-hot class rows for n images, as the Python runtime makes them: `pick` null draws each class in turn, a
// class index draws that class, [a, b] walks straight from class a to class b.
function classRows(n, pick) {
  const rows = new Float32Array(n * K);
  for (let i = 0; i < n; i++) {
    if (Array.isArray(pick)) {
      const t = n === 1 ? 0 : i / (n - 1);
      rows[i * K + pick[0]] += 1 - t;
      rows[i * K + pick[1]] += t;
    } else rows[i * K + (pick === null ? i % K : pick)] = 1;
  }
  return rows;
}

// G(z) for n latent vectors (of the one-hot class rows given, for a conditional model): the raw output (floats
// in the pixel range, or uint8 for 0-255 exports).
async function run(z, n, classes = null) {
  const feeds = { [inputName]: new ort.Tensor("float32", z, [n, facts.latent_dim]) };
  if (K) feeds[session.inputNames[1]] = new ort.Tensor("float32", classes || classRows(n, null), [n, K]);
  const out = await session.run(feeds);
  return out[outputName].data;
}

// The class chosen in a <select> made by classSelect: null for "each class in turn", else the class index.
function chosenClass(id) {
  const value = $(id).value;
  return value === "" ? null : Number(value);
}

function classSelect(id, mixed, initial) {
  const select = $(id);
  select.closest("label").hidden = !K;
  if (mixed) select.add(new Option("each class in turn", ""));
  CLASSES.forEach((name, k) => select.add(new Option(name, String(k), k === initial, k === initial)));
}

function pixel(value) {
  if (facts.output === "uint8") return value;
  return Math.min(255, Math.max(0, Math.round(((value - LO) * 255) / (HI - LO))));
}

// One image of a raw (n, C, H, W) output as RGBA pixels.
function rgba(raw, index) {
  const data = new Uint8ClampedArray(W * H * 4);
  const plane = H * W;
  const base = index * C * plane;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) data[p * 4 + c] = pixel(raw[base + (C === 1 ? 0 : c) * plane + p]);
    data[p * 4 + 3] = 255;
  }
  return new ImageData(data, W, H);
}

function layout(canvas, count, ncols, width = 640) {
  const rows = Math.ceil(count / ncols);
  const scale = Math.max(1, Math.min(MAX_SCALE, Math.floor(width / (ncols * (W + 2)))));
  canvas.width = ncols * (W + 2) * scale + 2 * scale;
  canvas.height = rows * (H + 2) * scale + 2 * scale;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  return { ctx, scale, ncols };
}

const tile = document.createElement("canvas");
tile.width = W;
tile.height = H;
function draw(grid, image, index) {
  tile.getContext("2d").putImageData(image, 0, 0);
  const r = Math.floor(index / grid.ncols);
  const c = index % grid.ncols;
  const s = grid.scale;
  grid.ctx.drawImage(tile, (2 + c * (W + 2)) * s, (2 + r * (H + 2)) * s, W * s, H * s);
}

// Requests start a new generation; an older one still running stops drawing (only the latest answers).
let generation = 0;
async function render(canvas, z, count, ncols, status, width, classes = null) {
  const mine = ++generation;
  const grid = layout(canvas, count, ncols, width);
  const start = performance.now();
  for (let first = 0; first < count; first += ROW) {
    const n = Math.min(ROW, count - first);
    const raw = await run(z.subarray(first * facts.latent_dim, (first + n) * facts.latent_dim), n,
                          classes && classes.subarray(first * K, (first + n) * K));
    if (mine !== generation) return null;
    for (let i = 0; i < n; i++) draw(grid, rgba(raw, i), first + i);
  }
  const ms = performance.now() - start;
  if (status) status.textContent = `${count} image${count > 1 ? "s" : ""} in ${ms.toFixed(0)} ms on this device`;
  return ms;
}

// --- Sample --------------------------------------------------------------------------------------------
let perImageMs = 0;
async function sample() {
  const seed = Number($("seed").value) || 0;
  const count = Number($("count").value);
  const truncation = Number($("truncation").value);
  $("truncation-value").textContent = truncation;
  const ms = await render($("grid"), latents(seed, count, facts.latent_dim, truncation), count,
                         Math.min(8, count), $("sample-status"), undefined, K ? classRows(count, chosenClass("class")) : null);
  if (ms !== null) {
    perImageMs = ms / count;
    $("download").href = $("grid").toDataURL("image/png");
    $("download").download = `samples-seed${seed}.png`;
  }
}

// --- Interpolate ---------------------------------------------------------------------------------------
function path(a, b, steps, spherical) {
  const d = facts.latent_dim;
  const out = new Float32Array(steps * d);
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < d; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.max(Math.sqrt(na * nb), 1e-12))));
  for (let s = 0; s < steps; s++) {
    const t = steps === 1 ? 0 : s / (steps - 1);
    const slerp = spherical && omega >= 1e-6;
    const wa = slerp ? Math.sin((1 - t) * omega) / Math.sin(omega) : 1 - t;
    const wb = slerp ? Math.sin(t * omega) / Math.sin(omega) : t;
    for (let i = 0; i < d; i++) out[s * d + i] = wa * a[i] + wb * b[i];
  }
  return out;
}

let walkTimer = null;
async function interpolate() {
  const steps = Math.max(2, Math.min(64, Number($("steps").value) || 16));
  const a = latents(Number($("seed-a").value) || 0, 1, facts.latent_dim);
  const b = latents(Number($("seed-b").value) || 0, 1, facts.latent_dim);
  const z = path(a, b, steps, $("path").value === "slerp");
  const classes = K ? classRows(steps, [chosenClass("class-a"), chosenClass("class-b")]) : null;
  if ((await render($("strip"), z, steps, Math.min(16, steps), $("interpolate-status"), undefined, classes)) === null) return;
  const raw = await run(z, steps, classes);
  const frames = Array.from({ length: steps }, (_, i) => rgba(raw, i));
  const walk = layout($("walk"), 1, 1, 256);
  clearInterval(walkTimer);
  let i = 0, direction = 1;
  walkTimer = setInterval(() => {
    draw(walk, frames[i], 0);
    if (i + direction < 0 || i + direction >= steps) direction = -direction;
    i += direction;
  }, 90);
}

// --- Directions ----------------------------------------------------------------------------------------
const strengths = [];
async function moveAlong() {
  const d = facts.latent_dim;
  const base = latents(Number($("base-seed").value) || 0, 1, d);
  const z = new Float32Array(2 * d);
  z.set(base, 0);
  for (let i = 0; i < d; i++) {
    let v = base[i];
    directions.vectors.forEach((vec, k) => { v += strengths[k] * vec[i]; });
    z[d + i] = v;
  }
  await render($("moved"), z, 2, 2, $("directions-status"), 360, K ? classRows(2, chosenClass("base-class")) : null);
}

function buildSliders() {
  if (!directions || !directions.names.length) {
    $("sliders").textContent = "This model was exported without latent directions.";
    return;
  }
  directions.names.forEach((name, k) => {
    strengths.push(0);
    const label = document.createElement("label");
    label.innerHTML = `<span>${name} <output>0</output></span><input type="range" min="-4" max="4" step="0.25" value="0"
      data-direction="${k}"><small>${directions.effects[k]}</small>`;
    label.querySelector("input").addEventListener("input", (event) => {
      strengths[k] = Number(event.target.value);
      label.querySelector("output").textContent = event.target.value;
      moveAlong();
    });
    $("sliders").appendChild(label);
  });
}

// --- About ---------------------------------------------------------------------------------------------
function about() {
  const q = facts.quality;
  const rows = q ? Object.entries(q.metrics).map(([k, v]) => `<tr><th>${k}</th><td>${Number(v).toPrecision(4)}</td></tr>`)
    .join("") : "";
  $("about-text").innerHTML = `<p>${facts.summary}</p>` +
    (q ? `<p>Quality (${q.generator}), measured in the <b>${q.features}</b>: distances in the project's own
      classifier's features, not Inception FID.</p><table>${rows}</table>` : "<p>Not evaluated.</p>") +
    `<p>Model file <code>${facts.model}</code> (${facts.precision}); latent size ${facts.latent_dim}; images
      ${C}×${H}×${W}. The same seed gives the same image here, in the dashboard and in
      <code>python -m inference.generate</code>. Model card: <a href="README.md">README.md</a>.</p>`;
}

// --- wiring --------------------------------------------------------------------------------------------
document.querySelectorAll("nav button").forEach((button) => button.addEventListener("click", () => {
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b === button));
  document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== button.dataset.view; });
  ({ sample, interpolate, directions: moveAlong, about })[button.dataset.view]?.();
}));
for (const id of ["seed", "count", "truncation", "class"]) $(id).addEventListener(id === "truncation" ? "input" : "change", sample);
$("new-seed").addEventListener("click", () => { $("seed").value = Math.floor(Math.random() * 2147483647); sample(); });
for (const id of ["seed-a", "seed-b", "steps", "path", "class-a", "class-b"]) $(id).addEventListener("change", interpolate);
for (const id of ["base-seed", "base-class"]) $(id).addEventListener("change", moveAlong);
classSelect("class", true, -1);
classSelect("class-a", false, 0);
classSelect("class-b", false, Math.min(1, K - 1));
classSelect("base-class", false, 0);

$("title").textContent = facts.title;
$("facts").textContent = facts.line;
await run(latents(0, 1, facts.latent_dim), 1); // warm-up, and this device's cost per image sizes the first grid
const t0 = performance.now();
await run(latents(1, 1, facts.latent_dim), 1);
const oneImageMs = performance.now() - t0;
const firstGrid = SIZES.filter((n) => n <= Math.max(4, FIRST_GRID_MS / oneImageMs)).pop();
if (oneImageMs > 100) ROW = 4;
for (const n of SIZES) $("count").add(new Option(String(n), String(n), n === firstGrid, n === firstGrid));
buildSliders();
await sample();

// For scripts and tests: the raw output the page computes for seeds, as `python -m inference.generate` would.
window.workbench = {
  facts,
  latents: (seed, count, truncation = 1) => latents(seed, count, facts.latent_dim, truncation),
  // pick: null (each class in turn), a class index, or [a, b] (a walk between classes); ignored when unconditional
  generate: async (seed, count, truncation = 1, pick = null) => Array.from(await run(
    latents(seed, count, facts.latent_dim, truncation), count, K ? classRows(count, pick) : null)),
  perImageMs: () => perImageMs,
};
document.body.dataset.ready = "true";
