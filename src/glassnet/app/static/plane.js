// The Plane tab: a network with two inputs, every neuron painted over the plane, trained live.
//
// The server computes every picture with the network's own forward pass (GET api/plane/frame): each
// picture is bytes 0..255 (128 = 0) that this module paints blue for positive, orange for negative.
// While training runs the page asks for a frame again as soon as the last one is painted (a few per
// second); the connections are SVG lines, colour = sign, thickness = |weight|; click one to edit it.

import { api, guard, notify } from "./api.js";
import { $, el, svg, clear, num } from "./widgets.js";

const EXTENT = 6;                       // the plane is [-6, 6]²
const FRAME_GAP_MS = 60;                // pause between two frames while training
const NEG = [245, 147, 34], POS = [8, 119, 189], MID = [232, 234, 237];

let st = null;                          // the last state (settings, choices, points)
let frame = null;                       // the last frame (pictures, weights, history)
let history = [];
let polling = false;
let selected = null;                    // {layer, neuron} shown in the neuron card
let edge = null;                        // {layer, to, from} whose weight is being edited
let addClass = null;                    // 0 or 1 while clicks on the output add points
export const stats = { frames: 0, started: 0 };

// -- colours and pictures --------------------------------------------------------------------------------------------
function colour(byte) {
  const t = (byte - 127.5) / 127.5;
  const end = t < 0 ? NEG : POS, a = Math.min(1, Math.abs(t));
  return [0, 1, 2].map((i) => Math.round(MID[i] + (end[i] - MID[i]) * a));
}

function bytesOf(picture) {
  const raw = atob(picture.bytes);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function paint(canvas, picture, size) {
  if (canvas.width !== size) { canvas.width = size; canvas.height = size; }
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(size, size);
  const values = bytesOf(picture);
  for (let i = 0; i < values.length; i++) {
    const [r, g, b] = colour(values[i]);
    image.data.set([r, g, b, 255], i * 4);
  }
  ctx.putImageData(image, 0, 0);
}

/** The output canvas: the picture scaled up, then the points (and the fitted curve for 1-D regression). */
function paintOutput() {
  const canvas = $("plane-output");
  const side = canvas.width;
  const ctx = canvas.getContext("2d");
  const off = document.createElement("canvas");
  paint(off, frame.output, frame.output_size);
  ctx.imageSmoothingEnabled = true;
  ctx.clearRect(0, 0, side, side);
  if (frame.curve) { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, side, side); } else ctx.drawImage(off, 0, 0, side, side);
  const px = (x) => ((x + EXTENT) / (2 * EXTENT)) * side;
  const scale = frame.output.scale || 1;
  const py = frame.curve ? (y) => side / 2 - (y / scale) * (side / 2) * 0.9 : (y) => ((EXTENT - y) / (2 * EXTENT)) * side;
  const showTest = $("plane-show-test").checked;
  for (const [kind, points] of [["train", st.points.train], ["test", showTest ? st.points.test : []]]) {
    for (const [x1, x2, t] of points) {
      const y = frame.curve ? t : x2;
      ctx.beginPath();
      ctx.arc(px(x1), py(y), 3.2, 0, 2 * Math.PI);
      ctx.fillStyle = st.regression ? (kind === "train" ? "#333" : "#999") : `rgb(${(t ? POS : NEG).join(",")})`;
      ctx.fill();
      ctx.lineWidth = 1;
      ctx.strokeStyle = kind === "train" ? "#fff" : "#000";
      ctx.stroke();
    }
  }
  if (frame.curve) {
    ctx.beginPath();
    frame.curve.x.forEach((x, i) => (i ? ctx.lineTo(px(x), py(frame.curve.y[i])) : ctx.moveTo(px(x), py(frame.curve.y[i]))));
    ctx.strokeStyle = `rgb(${POS.join(",")})`;
    ctx.lineWidth = 2.5;
    ctx.stroke();
  }
}

// -- the network diagram ---------------------------------------------------------------------------------------------
function neuronBox(layer, neuron, label) {
  const canvas = el("canvas", { class: "plane-neuron", width: 40, height: 40, title: label,
    testid: `plane-neuron-${layer}-${neuron}`, "data-layer": layer, "data-neuron": neuron });
  if (layer > 0) canvas.addEventListener("click", guard(() => selectNeuron(layer, neuron)));
  return canvas;
}

function layerControls(g) {
  const hidden = st.settings.hidden;
  return el("div", { class: "plane-layer-controls" },
    el("button", { type: "button", title: "one neuron more", testid: `plane-add-neuron-${g}`,
      onclick: guard(() => setHidden(hidden.map((n, i) => (i === g - 1 ? Math.min(8, n + 1) : n)))) }, "+"),
    el("button", { type: "button", title: "one neuron fewer",
      onclick: guard(() => setHidden(hidden.map((n, i) => (i === g - 1 ? Math.max(1, n - 1) : n)))) }, "−"));
}

function buildDiagram() {
  const box = clear($("plane-diagram"));
  const features = st.settings.features, hidden = st.settings.hidden;
  const outputs = st.regression ? 1 : 2;
  const columns = [features.map((f, i) => neuronBox(0, i, f))];
  hidden.forEach((n, g) => columns.push(Array.from({ length: n }, (_, j) => neuronBox(g + 1, j, `h${g + 1}.${j + 1}`))));
  columns.push(Array.from({ length: outputs }, (_, j) => neuronBox(hidden.length + 1, j, `out.${j + 1}`)));
  box.append(svg("svg", { class: "plane-links", id: "plane-links", "aria-label": "the weights" }));
  columns.forEach((cells, g) => {
    const head = g === 0 ? el("div", { class: "plane-col-head" }, "inputs")
      : g === columns.length - 1 ? el("div", { class: "plane-col-head" }, "output")
        : el("div", { class: "plane-col-head" }, layerControls(g), `${cells.length}`);
    const col = el("div", { class: "plane-col" }, head, ...cells.map((c, j) =>
      el("div", { class: "plane-cell" }, c, el("span", { class: "plane-cell-label" },
        g === 0 ? features[j] : g === columns.length - 1 ? (st.regression ? "value" : `class ${j}`) : ""))));
    box.append(col);
  });
}

function drawLinks() {
  const links = $("plane-links");
  if (!links || !frame) return;
  clear(links);
  const base = $("plane-diagram").getBoundingClientRect();
  links.setAttribute("width", $("plane-diagram").scrollWidth);
  links.setAttribute("height", $("plane-diagram").scrollHeight);
  const centre = (layer, neuron, side) => {
    const node = $("plane-diagram").querySelector(`[data-layer="${layer}"][data-neuron="${neuron}"]`);
    if (!node) return null;
    const r = node.getBoundingClientRect();
    return [(side ? r.right : r.left) - base.left + $("plane-diagram").scrollLeft, r.top + r.height / 2 - base.top];
  };
  const all = frame.weights.flatMap((d) => d.w.flat().map(Math.abs));
  const biggest = Math.max(1e-9, ...all);
  frame.weights.forEach((dense, k) => {
    const layer = k + 1;
    dense.w.forEach((row, to) => row.forEach((w, from) => {
      const a = centre(layer - 1, from, true), b = centre(layer, to, false);
      if (!a || !b) return;
      const width = 0.5 + 5 * Math.abs(w) / biggest;
      const chosen = edge && edge.layer === layer && edge.to === to && edge.from === from;
      const attrs = { x1: a[0], y1: a[1], x2: b[0], y2: b[1] };
      links.append(svg("line", { ...attrs, class: `plane-link${chosen ? " chosen" : ""}`,
        stroke: `rgb(${(w < 0 ? NEG : POS).join(",")})`, "stroke-width": width.toFixed(2) }));
      links.append(svg("line", { ...attrs, class: "plane-link-hit", testid: `plane-link-${layer}-${to}-${from}`,
        onclick: guard(() => chooseEdge(layer, to, from, w)) }, svg("title", {}, `weight ${num(w, 3)}`)));
    }));
  });
}

// -- frames --------------------------------------------------------------------------------------------------------
function render() {
  if (!frame || !st) return;
  const size = frame.size;
  frame.inputs.forEach((p, i) => { const c = $("plane-diagram").querySelector(`[data-layer="0"][data-neuron="${i}"]`); if (c) paint(c, p, size); });
  frame.layers.forEach((layer, k) => layer.a.forEach((p, j) => {
    const c = $("plane-diagram").querySelector(`[data-layer="${k + 1}"][data-neuron="${j}"]`);
    if (c) paint(c, p, size);
  }));
  paintOutput();
  drawLinks();
  drawLoss();
  const last = history[history.length - 1] || {};
  const acc = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)}%`);
  $("plane-status").textContent = `epoch ${frame.epoch} · ${frame.steps} mini-batches · loss ${num(last.loss, 4)} train, ` +
    `${num(last.test_loss, 4)} test` + (st.regression ? "" : ` · accuracy ${acc(last.accuracy)} train, ${acc(last.test_accuracy)} test`) +
    (frame.message && !frame.running ? ` · ${frame.message}` : "");
  $("plane-play").textContent = frame.running ? "Pause" : "Train";
  $("plane-play").dataset.running = String(frame.running);
  $("plane-step").disabled = frame.running;
  const slider = $("plane-time");
  slider.max = String(Math.max(0, frame.snapshots.length - 1));
  slider.disabled = frame.running;
  if (frame.view_epoch === null) slider.value = slider.max;
  $("plane-time-label").textContent = frame.view_epoch === null ? "the latest weights" : `epoch ${frame.view_epoch}`;
  $("plane-panel-frames").dataset.frames = String(stats.frames);
}

async function fetchFrame() {
  const next = await api("GET", `api/plane/frame?since=${history.length}`);
  if (next.since === 0) history = [];
  history = history.concat(next.history);
  frame = next;
  stats.frames += 1;
  if (next.data_version !== st.data_version) await loadState();
  render();
  if (selected && !frame.running) await selectNeuron(selected.layer, selected.neuron, true);
  return next;
}

async function poll() {
  if (polling) return;
  polling = true;
  try {
    while (!$("panel-plane").hidden) {
      const f = await fetchFrame();
      if (!f.running) break;
      await new Promise((r) => setTimeout(r, FRAME_GAP_MS));
    }
  } finally {
    polling = false;
  }
}

function drawLoss() {
  const canvas = $("plane-loss");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const rows = history.filter((r) => r.loss !== null);
  if (rows.length < 2) return;
  const top = Math.max(...rows.map((r) => Math.max(r.loss, r.test_loss || 0)));
  for (const [key, style] of [["loss", "#1d2430"], ["test_loss", "#9aa3af"]]) {
    ctx.beginPath();
    rows.forEach((r, i) => {
      const x = (i / (rows.length - 1)) * (w - 4) + 2, y = h - 2 - (r[key] / top) * (h - 4);
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.strokeStyle = style;
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }
}

// -- one neuron, one weight ----------------------------------------------------------------------------------------
function zeroLine(ctx, z, size, side) {
  const cell = side / (size - 1);
  const at = (r, c) => z[r][c];
  ctx.beginPath();
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      for (const [dr, dc] of [[0, 1], [1, 0]]) {
        if (r + dr >= size || c + dc >= size) continue;
        const a = at(r, c), b = at(r + dr, c + dc);
        if ((a < 0) === (b < 0)) continue;
        const t = a / (a - b);
        const x = (c + dc * t) * cell, y = (r + dr * t) * cell;
        ctx.moveTo(x - (dr ? 2.5 : 0.3), y - (dc ? 2.5 : 0.3));
        ctx.lineTo(x + (dr ? 2.5 : 0.3), y + (dc ? 2.5 : 0.3));
      }
    }
  }
  ctx.strokeStyle = "#111";
  ctx.lineWidth = 2;
  ctx.stroke();
}

async function selectNeuron(layer, neuron, quiet = false) {
  selected = { layer, neuron };
  const info = await api("GET", `api/plane/neuron?layer=${layer}&neuron=${neuron}`);
  $("plane-neuron-card").hidden = false;
  $("plane-neuron-name").textContent = `${info.name} (${info.activation})`;
  $("plane-formula").textContent = info.formula;
  $("plane-fold").textContent = info.fold;
  $("plane-bias-value").value = Number(info.bias).toFixed(3);
  for (const [id, key] of [["plane-z", "z"], ["plane-a", "a"]]) {
    const canvas = $(id);
    const off = document.createElement("canvas");
    paint(off, info[`${key}_picture`], info.size);
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
    zeroLine(ctx, info.z, info.size, canvas.width);
  }
  for (const c of document.querySelectorAll(".plane-neuron.selected")) c.classList.remove("selected");
  const node = $("plane-diagram").querySelector(`[data-layer="${layer}"][data-neuron="${neuron}"]`);
  if (node) node.classList.add("selected");
  if (!quiet) $("plane-neuron-card").scrollIntoView({ block: "nearest" });
}

function chooseEdge(layer, to, from, w) {
  edge = { layer, to, from };
  $("plane-weight-card").hidden = false;
  const names = (g, j) => (g === 0 ? st.settings.features[j] : g === st.settings.hidden.length + 1 ? `out.${j + 1}` : `h${g}.${j + 1}`);
  $("plane-weight-what").textContent = `the weight from ${names(layer - 1, from)} into ${names(layer, to)}`;
  $("plane-weight-value").value = Number(w).toFixed(3);
  drawLinks();
}

// -- settings, data, training ------------------------------------------------------------------------------------------
async function loadState() {
  st = await api("GET", "api/plane");
  fillControls();
  buildDiagram();
}

async function configure(changes) {
  st = await api("POST", "api/plane/settings", changes);
  fillControls();
  buildDiagram();
  history = [];
  await fetchFrame();
}

const setHidden = (hidden) => configure({ hidden });

function fillControls() {
  const s = st.settings, c = st.choices;
  const fillSelect = (id, options, value) => {
    const node = $(id);
    if (node.options.length !== options.length) {
      clear(node);
      for (const o of options) node.append(el("option", { value: o }, o));
    }
    node.value = value;
  };
  fillSelect("plane-dataset", c.datasets, s.dataset);
  fillSelect("plane-activation", c.activations, s.activation);
  fillSelect("plane-optimizer", c.optimizers, s.optimizer);
  for (const key of ["noise", "n", "test_fraction", "data_seed", "seed", "lr", "batch_size", "l2", "l1"]) $(`plane-${key}`).value = String(s[key]);
  const box = $("plane-features");
  if (!box.childElementCount) {
    for (const f of c.features) {
      box.append(el("label", { class: "plane-feature" }, el("input", { type: "checkbox", value: f, testid: `plane-feature-${f}`,
        onchange: guard(() => configure({ features: [...box.querySelectorAll("input:checked")].map((i) => i.value) })) }), f));
    }
  }
  for (const input of box.querySelectorAll("input")) input.checked = s.features.includes(input.value);
  $("plane-own-count").textContent = `${st.own_points} point${st.own_points === 1 ? "" : "s"} of your own`;
  $("plane-add-layer").disabled = s.hidden.length >= c.max_layers;
  $("plane-remove-layer").disabled = s.hidden.length === 0;
}

function bindSettings() {
  const numeric = { noise: parseFloat, n: parseInt, test_fraction: parseFloat, data_seed: parseInt, seed: parseInt,
    lr: parseFloat, batch_size: parseInt, l2: parseFloat, l1: parseFloat };
  for (const [key, parse] of Object.entries(numeric)) {
    $(`plane-${key}`).addEventListener("change", guard(() => configure({ [key]: parse($(`plane-${key}`).value) })));
  }
  for (const key of ["dataset", "activation", "optimizer"]) {
    $(`plane-${key}`).addEventListener("change", guard(() => configure({ [key]: $(`plane-${key}`).value })));
  }
  $("plane-add-layer").addEventListener("click", guard(() => setHidden([...st.settings.hidden, 2])));
  $("plane-remove-layer").addEventListener("click", guard(() => setHidden(st.settings.hidden.slice(0, -1))));
}

async function togglePlay() {
  if (frame && frame.running) {
    await api("POST", "api/plane/train/pause");
    await fetchFrame();
  } else {
    await api("POST", "api/plane/train/start");
    stats.started = stats.frames;
    poll();
  }
}

function bindTraining() {
  $("plane-play").addEventListener("click", guard(togglePlay));
  $("plane-step").addEventListener("click", guard(async () => { await api("POST", "api/plane/step", { batches: 1 }); await fetchFrame(); }));
  $("plane-time").addEventListener("change", guard(async () => {
    const i = Number($("plane-time").value);
    const epoch = i >= frame.snapshots.length - 1 ? null : frame.snapshots[i];
    await api("POST", "api/plane/view", { epoch });
    await fetchFrame();
  }));
  $("plane-latest").addEventListener("click", guard(async () => { await api("POST", "api/plane/view", { epoch: null }); await fetchFrame(); }));
  $("plane-show-test").addEventListener("change", () => frame && paintOutput());
  $("plane-weight-card").addEventListener("submit", guard(async (e) => {
    e.preventDefault();
    if (!edge) return;
    await api("POST", "api/plane/weight", { ...edge, value: parseFloat($("plane-weight-value").value) });
    await fetchFrame();
  }));
  $("plane-bias-form").addEventListener("submit", guard(async (e) => {
    e.preventDefault();
    if (!selected) return;
    await api("POST", "api/plane/bias", { ...selected, value: parseFloat($("plane-bias-value").value) });
    await fetchFrame();
    await selectNeuron(selected.layer, selected.neuron, true);
  }));
  $("plane-replay").addEventListener("click", guard(async () => notify((await api("POST", "api/plane/replay")).message)));
  $("plane-diagnose").addEventListener("click", guard(async () => {
    const d = await api("GET", "api/plane/diagnose");
    const list = clear($("plane-lab-out"));
    list.append(el("p", {}, d.message), ...d.findings.map((f) => el("p", { class: "hint" }, el("b", {}, f.message), ` — ${f.fix}`)));
  }));
  $("plane-descent").addEventListener("click", guard(async () => {
    const d = await api("POST", "api/plane/descent");
    const list = clear($("plane-lab-out"));
    list.append(el("p", {}, `Gradient descent on one weight (${d.param}[${d.index}]), loss ${num(d.loss0, 4)} at w = ${num(d.w0, 3)}:`),
      el("p", { class: "hint" }, d.rule),
      ...d.paths.map((p) => el("p", { class: "hint" }, el("b", {}, `${p.label} (lr ${num(p.lr, 3)})`), `: ${p.verdict}`)));
  }));
}

function bindPoints() {
  for (const k of [0, 1]) {
    $(`plane-add-${k}`).addEventListener("click", () => {
      addClass = addClass === k ? null : k;
      $("plane-add-0").setAttribute("aria-pressed", String(addClass === 0));
      $("plane-add-1").setAttribute("aria-pressed", String(addClass === 1));
    });
  }
  $("plane-output").addEventListener("click", guard(async (e) => {
    if (addClass === null) return;
    const r = $("plane-output").getBoundingClientRect();
    const x1 = ((e.clientX - r.left) / r.width) * 2 * EXTENT - EXTENT, x2 = EXTENT - ((e.clientY - r.top) / r.height) * 2 * EXTENT;
    st = await api("POST", "api/plane/points", { x1, x2, label: addClass });
    fillControls();
    buildDiagram();
    await fetchFrame();
  }));
  $("plane-csv").addEventListener("change", guard(async () => {
    const file = $("plane-csv").files[0];
    if (!file) return;
    st = await api("POST", "api/plane/points/csv", { csv: await file.text() });
    fillControls();
    buildDiagram();
    await fetchFrame();
  }));
  $("plane-clear-points").addEventListener("click", guard(async () => { st = await api("DELETE", "api/plane/points"); fillControls(); buildDiagram(); await fetchFrame(); }));
  $("plane-upload").addEventListener("change", guard(async () => {
    const file = $("plane-upload").files[0];
    if (!file) return;
    st = await api("POST", "api/plane/upload", await file.arrayBuffer(), { raw: true });
    fillControls();
    buildDiagram();
    history = [];
    await fetchFrame();
  }));
}

export function init() {
  bindSettings();
  bindTraining();
  bindPoints();
  window.addEventListener("resize", () => drawLinks());
}

export async function shown() {
  if (!st) await loadState();
  history = [];
  const f = await fetchFrame();
  if (f.running) poll();
}
