// Draw tab: draw a digit, watch the prediction and the network light up as you draw, see why it says
// that digit (the contribution maps), play the forward and backward passes over the diagram, open any
// neuron (its weighted sum term by term, its connections, what drives it), and edit it.

import { api, guard, singleFlight } from "./api.js";
import { $, el, clear, DrawPad, num, numberTable, pct, pictureCanvas, probabilityBars, throttle } from "./widgets.js";
import { NetworkDiagram } from "./diagram.js";
import { Passes } from "./passes.js";
import { inputName, linkRows, pictureSide, pixelFigure } from "./pixels.js";
import { neuronEdges, renderConnections, renderDrivers, renderEffective, renderOutputNumbers, renderWhy } from "./why.js";
import { state, on, emit, classes } from "./state.js";

let pad = null;
let diagram = null;
let openNeuronId = null;   // {layer, neuron} shown in the panel
let drawnFor = null;       // the network key the diagram was laid out for
let passes = null;         // the forward / backward pass player under the diagram
let lastNeuron = null;     // the last /api/neuron answer shown (its connections are on the diagram)
let playNext = false;      // play the forward pass when the next prediction arrives (a new example)
// A switched-off neuron comes back with zero weights (the edited network); its own weights are
// still worth seeing, so the last ones seen while it was on are kept here.
const weightsSeen = new Map();
const predictThrottled = throttle(() => predictDrawing(false), 150);

export function init() {
  pad = new DrawPad($("draw-canvas"), {
    onDraw: (final) => {
      if (final) {
        predictThrottled.cancel();
        predictDrawing();
      } else {
        predictThrottled();
      }
    },
  });
  diagram = new NetworkDiagram($("diagram"), {
    onPick: guard((layer, neuron) => openNeuron(layer, neuron)),
    onHover: (text) => { $("diagram-hover").textContent = text; },
  });
  addViews();
  $("draw-clear").addEventListener("click", () => {
    predictThrottled.cancel();
    pad.clear();
    clearAnswer();
  });
  $("draw-test-show").addEventListener("click", guard(() => {
    const index = Math.round(Number($("draw-test-index").value));
    return look({ test_index: index }, `test image #${index}`);
  }));
  $("neuron-close").addEventListener("click", () => {
    $("neuron-panel").hidden = true;
    openNeuronId = null;
    lastNeuron = null;
    showPath();
  });
  $("neuron-off").addEventListener("change", guard(() => edit({ off: $("neuron-off").checked })));
  $("neuron-bias-range").addEventListener("input", () => { $("neuron-bias").value = $("neuron-bias-range").value; });
  $("neuron-bias-range").addEventListener("change", guard(() => edit({ bias: Number($("neuron-bias-range").value) })));
  $("neuron-bias-apply").addEventListener("click", guard(() => edit({ bias: Number($("neuron-bias").value) })));
  $("neuron-bias-original").addEventListener("click", guard(() => edit({ bias: null })));
  $("reset-edits").addEventListener("click", guard(resetEdits));
  $("neuron-inside").addEventListener("click", () => {
    if (!openNeuronId) return;
    emit("inspect", openNeuronId);
    emit("show-tab", "inside");
  });
  on("network", (net) => {
    weightsSeen.clear();
    layout(net);
  });
  on("view", () => weightsSeen.clear());
  on("job-ended", () => weightsSeen.clear());
  on("session", (s) => diagram.markEdits(s.edits || []));
  on("weights", () => {
    if (state.source) predict(state.source);
  });
  on("open-test", (index) => {
    $("draw-test-index").value = index;
    emit("show-tab", "draw");
    guard(look)({ test_index: index }, `test image #${index}`);
  });
}

export function shown() {
  if (!state.source && state.network) {
    // Something to look at straight away: the first test image.
    return look({ test_index: Math.round(Number($("draw-test-index").value)) || 0 }, "test image #0");
  }
  return undefined;
}

function layout(net) {
  if (!net) return;
  const key = JSON.stringify(net.sizes);
  if (key !== drawnFor) {
    drawnFor = key;
    diagram.setNetwork(net, classes());
    $("neuron-panel").hidden = true;
    openNeuronId = null;
    lastNeuron = null;
  }
  if (state.source) predict(state.source);
}

/** Look at an example: a drawing or a test image. */
export function look(source, name, play = true) {
  state.source = source;
  playNext = play;
  passes.forget();
  state.sourceName = name;
  emit("source", source);
  return predict(source);
}

/** The places this tab adds to the page: why this digit, the passes' controls, the neuron's connections. */
function addViews() {
  $("prob-bars").after(el("div", { id: "draw-why", testid: "draw-why" }));
  const bar = el("div", { class: "anim-bar", id: "anim-bar", testid: "anim-bar" });
  $("diagram-hover").before(bar);
  passes = new Passes(diagram, bar, () => state.source);
  const by = el("select", { id: "connections-by", "aria-label": "connection thickness" },
    el("option", { value: "term" }, "|w·a| for this drawing"), el("option", { value: "weight" }, "|w|"));
  by.addEventListener("change", () => showConnections());
  $("neuron-activation").after(
    el("div", { id: "neuron-output", testid: "neuron-output" }),
    el("p", { class: "hint" }, "Its connections are drawn on the diagram above (red +, blue −), thickness ", by, "."),
    el("div", { class: "columns", id: "neuron-connections", testid: "neuron-connections" }),
    el("div", { id: "neuron-effective-box" }),
    el("div", { id: "neuron-drivers-box" }));
}

/** Clear: the answer goes with the drawing. */
function clearAnswer() {
  $("draw-mini").textContent = "";
  $("prediction").textContent = "?";
  delete $("prediction").dataset.prediction;
  $("prediction-text").textContent = "Draw something to see the prediction.";
  clear($("prob-bars"));
  clear($("draw-input"));
  clear($("draw-why"));
  state.source = null;
  state.lastPrediction = null;
  passes.reset();
  diagram.showConnections([]);
  diagram.markPixel(null);
}

/** On the diagram: the open neuron's strongest connections, else the path that carried the answer. */
function showConnections() {
  if (lastNeuron) diagram.showConnections(neuronEdges(lastNeuron, $("connections-by").value === "term"), "neuron");
  else showPath();
}

function showPath() {
  const why = state.lastPrediction && state.lastPrediction.why;
  diagram.showConnections(why ? why.path.map((e) => ({ from: e.from, to: e.to, value: e.term })) : [], "path");
}

function predictDrawing(final = true) {
  if (pad.empty) return;
  // 56x56 (5x5 blocks of the 280x280 pad) is plenty for a digit that ends up 20 pixels tall, and a sixth
  // of 140x140 to send and parse: predicting as you draw costs the server half as much.
  look({ drawing: pad.image(56) }, "your drawing", final);
}

const predict = singleFlight(async (source) => {
  const r = await api("POST", "api/predict", source);
  render(r);
  if (openNeuronId) await showNeuron(openNeuronId.layer, openNeuronId.neuron);
});

function render(r) {
  const names = classes();
  $("prediction").textContent = names[r.prediction] ?? String(r.prediction);
  $("prediction").dataset.prediction = String(r.prediction);
  const p = r.probabilities[r.prediction];
  const where = r.epoch === null || r.epoch === undefined ? "" : ` (weights after epoch ${r.epoch})`;
  $("prediction-text").textContent = `${state.sourceName}: the network says “${r.label}” with ${pct(p)} probability${where}${r.edited ? ", with your edits" : ""}.`;
  probabilityBars($("prob-bars"), r.probabilities, names, r.prediction);
  // The same answer right under the pad: on a phone the full one is below the fold while you draw.
  $("draw-mini").textContent = `says ${r.label} (${pct(p)})`;
  clear($("draw-input")).append(pictureCanvas(r.input, 112, { title: "28×28 input" }));
  if (!diagram.net) layout(state.network);
  diagram.update(r);
  state.lastPrediction = r;
  renderWhy($("draw-why"), r.why, diagram);
  passes.fillLabels(r.prediction);
  if (!lastNeuron) showPath();
  if (playNext) {
    playNext = false;
    passes.play("forward");
  } else if (passes.step !== null) passes.show();
}

// -- one neuron ------------------------------------------------------------------------------------------
async function openNeuron(layer, neuron) {
  if (!state.source) {
    const index = Math.round(Number($("draw-test-index").value)) || 0;
    await look({ test_index: index }, `test image #${index}`);
  }
  openNeuronId = { layer, neuron };
  state.selected = openNeuronId;
  diagram.select(layer, neuron);
  await showNeuron(layer, neuron);
  $("neuron-panel").hidden = false;
  renderDrivers($("neuron-drivers-box"), await api("POST", "api/neuron/drivers", { ...state.source, layer, neuron }));
  $("neuron-panel").scrollIntoView({ block: "nearest", behavior: "smooth" });
}

async function showNeuron(layer, neuron) {
  const r = await api("POST", "api/neuron", { ...state.source, layer, neuron });
  const last = state.network.layers.length - 1;
  const isOutput = layer === last;
  const title = `${r.name} · neuron ${r.neuron}${isOutput ? ` (class “${classes()[r.neuron]}”)` : ""}`;
  $("neuron-title").textContent = title + (r.off ? " · switched off" : "");

  const sum = clear($("neuron-sum"));
  const signed = (v) => (v < 0 ? ` − ${num(-v)}` : ` + ${num(v)}`);
  sum.append("z = Σ w·x + b = ",
    el("span", { class: "pos" }, num(r.positive)), " (inputs pushing up)",
    el("span", { class: "neg" }, signed(r.negative)), " (inputs pushing down)",
    signed(r.bias), " (bias)", " = ", el("b", {}, num(r.z)));
  // The equation and the formula are the server's (the activation's own text from the library's registry).
  const act = clear($("neuron-activation"));
  if (r.off) act.append("switched off: a = ", el("b", {}, "0"), ` (it would be ${r.activation}(z) otherwise)`);
  else {
    const cut = r.equation.lastIndexOf(" = ");
    act.append(r.equation.slice(0, cut + 3).replace(/-(?=\d)/g, "−"), el("b", {}, num(r.a)));
    if (r.symbol === "p") act.append(` (its probability; ${r.activation} uses all ${r.n_neurons} z${r.where ? `, ${r.where}` : ""})`);
  }
  act.append(el("br"), el("span", { class: "hint", testid: "neuron-formula" }, `${r.activation}: ${r.formula}`));

  const key = `${layer}:${neuron}`;
  if (!r.off) weightsSeen.set(key, r.weights);
  const weights = r.off && weightsSeen.has(key) ? weightsSeen.get(key) : r.weights;
  const first = weights.height > 1;
  const size = first ? 196 : Math.min(640, Math.max(240, 4 * weights.width));
  clear($("neuron-weights")).append(pictureCanvas(weights, size, { title: "weights: red +, blue −" }),
    el("p", { class: "hint" }, (first ? "one weight per pixel (28×28)" : `one weight per neuron of the layer before (${weights.width})`) +
      (r.off ? "; switched off, they are not used" : "")));
  // The terms as a picture linked to the tables: hovering a row marks its pixel, hovering a pixel its row.
  const side = first ? pictureSide(r.n_inputs) : null;
  const readout = el("p", { class: "hint", testid: "neuron-term-readout" }, `largest |x·w| = ${num(r.terms.scale)}`);
  const links = [];
  const termsFigure = first
    ? pixelFigure(r.terms, size, { title: "x·w: red +, blue −", testid: "neuron-terms-picture", onPixel: (pixel) => {
      diagram.markPixel(pixel);
      for (const l of links) l.highlight(pixel);
      if (pixel) readout.textContent = `pixel (${pixel[0]}, ${pixel[1]}): x·w = ${num(r.terms.values[pixel[0] * r.terms.width + pixel[1]])}`;
    } })
    : { node: pictureCanvas(r.terms, size, { title: "x·w: red +, blue −" }), mark: () => {} };
  clear($("neuron-terms")).append(termsFigure.node, readout);
  const name = (i) => (side ? inputName(i, side) : layer === 1 ? String(i) : `neuron ${i}`);
  const rows = (terms) => terms.map((t) => [name(t.input), t.x, t.w, t.term]);
  const columns = [side ? "pixel (row, col)" : "input", "x", "w", "x·w"];
  for (const [id, terms] of [["neuron-top-up", r.top_up], ["neuron-top-down", r.top_down]]) {
    const table = numberTable(columns, rows(terms), { limit: 8, testid: `${id}-table` });
    clear($(id)).append(table);
    if (side) {
      links.push(linkRows(table, terms.map((t) => [Math.floor(t.input / side), t.input % side]), (pixel) => {
        termsFigure.mark(pixel);
        diagram.markPixel(pixel);
      }));
    }
  }
  lastNeuron = r;
  renderOutputNumbers($("neuron-output"), r);
  renderConnections($("neuron-connections"), r, diagram);
  renderEffective($("neuron-effective-box"), r);
  showConnections();

  $("neuron-off").checked = Boolean(r.off);
  const bias = r.bias_override ?? r.bias;
  const range = $("neuron-bias-range");
  const reach = Math.max(5, Math.ceil(Math.abs(bias) * 2));
  range.min = String(-reach);
  range.max = String(reach);
  range.value = String(bias);
  $("neuron-bias").value = Number(bias.toPrecision(4));
}

async function edit(change) {
  if (!openNeuronId) return;
  const current = (state.edits || []).find((e) => e.layer === openNeuronId.layer && e.neuron === openNeuronId.neuron);
  const body = {
    layer: openNeuronId.layer,
    neuron: openNeuronId.neuron,
    off: change.off ?? $("neuron-off").checked,
    bias: "bias" in change ? change.bias : current ? current.bias : null,
  };
  showEdits(await api("POST", "api/edits", body));
}

async function resetEdits() {
  showEdits(await api("DELETE", "api/edits"), true);
}

function showEdits(r, reset = false) {
  state.edits = r.edits;
  diagram.markEdits(r.edits);
  const acc = r.test_accuracy || {};
  const line = clear($("edit-accuracy"));
  if (reset || !r.edits.length) {
    line.append(`No edits: test accuracy ${pct(acc.original)}.`);
  } else {
    const worse = acc.edited < acc.original;
    line.append("test accuracy: original ", el("b", {}, pct(acc.original)), " → edited ",
      el("b", { class: acc.edited === acc.original ? "" : worse ? "bad" : "good" }, pct(acc.edited)),
      ` (${r.edits.length} edit${r.edits.length > 1 ? "s" : ""})`);
  }
  emit("edits", r.edits);
  emit("weights");
}
