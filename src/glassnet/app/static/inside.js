// Inside tab: one example through the network number by number (z = W·x + b, the activation,
// softmax step by step; every layer's full table folded) and, with a true label, one step of learning
// as nudges (explain.nudges on the server): the outputs' moves, each layer's neurons to push up or down
// and the weights that change most (their pixels on the picture), going backwards, the loss before and
// after the step, and the full tables one click away.
// The formulas are the server's: each activation's and the loss's own text from the library's
// registry (formula, derivative_formula, loss_formula, gradient_formula), never written here.

import { api, guard } from "./api.js";
import { $, el, clear, num, numberTable } from "./widgets.js";
import { state, on, classes } from "./state.js";
import { inputName, linkRows, pictureSide, pixelFigure } from "./pixels.js";

const LIMIT = 10;

export function init() {
  $("inside-form").addEventListener("submit", guard(run));
  on("network", fillLayers);
  on("session", fillLabels);
  on("inspect", ({ layer, neuron }) => {
    $("inside-layer").value = String(layer);
    $("inside-neuron").value = String(neuron);
    $("inside-source").value = "drawing";
  });
}

export function shown() {
  if (state.network && !$("inside-output").firstChild) return run();
  return undefined;
}

function fillLayers(net) {
  if (!net) return;
  const select = clear($("inside-layer"));
  for (const layer of net.layers.slice(1)) {
    select.append(el("option", { value: layer.index }, `${layer.index}: ${layer.name} (${layer.size} neurons)`));
  }
  clear($("inside-output"));
}

function fillLabels() {
  const select = $("inside-label");
  const chosen = select.value;
  clear(select).append(el("option", { value: "" }, "none (no backward step)"));
  const names = classes();
  names.forEach((_name, k) => select.append(el("option", { value: k }, className(names, k))));
  select.value = chosen;
}

function source() {
  if ($("inside-source").value === "drawing" && state.source) return { source: state.source, name: state.sourceName };
  const index = Math.round(Number($("inside-test-index").value)) || 0;
  return { source: { test_index: index }, name: `test image #${index}` };
}

async function run(event) {
  if (event) event.preventDefault();
  const layer = Number($("inside-layer").value || 1);
  const size = state.network.layers[layer].size;
  const neuron = Math.min(size - 1, Math.max(0, Math.round(Number($("inside-neuron").value))));
  $("inside-neuron").max = String(size - 1);
  const labelText = $("inside-label").value;
  const label = labelText === "" ? null : Number(labelText);
  const { source: src, name } = source();
  const r = await api("POST", "api/inside", { ...src, layer, neuron, label });
  render(r, { layer, neuron, name });
}

/** "7" for digits, "7: sneaker" for named classes. */
function className(names, k) {
  const name = names[k] ?? String(k);
  return name === String(k) ? name : `${k}: ${name}`;
}

function formula(...parts) {
  return el("p", { class: "formula" }, ...parts);
}

function sum(values) {
  return values.reduce((a, b) => a + b, 0);
}

/** "a = relu(z) = relu(1.25) = 1.25" as the server writes it, with the value in bold (a true minus sign). */
function equation(text, value) {
  const cut = text.lastIndexOf(" = ");
  return [text.slice(0, cut + 3).replace(/-(?=\d)/g, "−"), el("b", {}, num(value))];
}

function render(r, { layer, neuron, name }) {
  const out = clear($("inside-output"));
  out.append(el("p", { class: "explain" }, `Looking at ${name}${state.viewEpoch === null ? "" : `, weights after epoch ${state.viewEpoch}`}. Forward pass, layer by layer:`));
  const xs = {};
  for (const f of r.forward) {
    xs[f.index] = f.x;
    const card = el("div", { class: "card layer-card", testid: `inside-layer-${f.index}` },
      el("h3", {}, `Layer ${f.index}: ${f.name} — ${f.x.length} inputs → ${f.z.length} neurons, activation ${f.activation}`),
      el("p", { class: "hint", testid: `inside-formula-${f.index}` }, `${f.activation}: ${f.formula}; its slope ${f.derivative_formula}`));
    if (f.neuron) {
      const n = f.neuron;
      const chosen = f.index === layer ? "the neuron you chose" : "one neuron";
      // Largest |w·x| first: those terms decide z (inputs that are 0 add nothing).
      const side = f.index === 1 ? pictureSide(f.x.length) : null;
      const rows = n.weights.map((w, k) => [side ? inputName(k, side) : k, f.x[k], w, n.terms[k]])
        .sort((a, b) => Math.abs(b[3]) - Math.abs(a[3]));
      const zeros = f.x.filter((v) => v === 0).length;
      const s = sum(n.terms);
      const table = numberTable([side ? "pixel (row, col)" : "k", "input x_k", `weight w_${n.j},k`, "w·x"], rows,
        { limit: LIMIT, testid: `inside-terms-${f.index}`, caption: `Neuron ${n.j} (${chosen}): its weighted sum, term by term, largest |w·x| first` });
      const sums = el("div", {},
        formula(`Σ w·x = ${num(s)}  (all ${rows.length} terms added${zeros ? `; ${zeros} inputs are 0, so their terms are 0` : ""})`),
        formula(`z = Σ w·x + b = ${num(s)} ${n.bias < 0 ? "−" : "+"} ${num(Math.abs(n.bias))} = `, el("b", {}, num(n.z))),
        formula(...equation(n.equation, n.a), f.symbol === "p" ? " (the softmax step by step: below)" : ""));
      card.append(el("div", { class: "math-steps" }, table, sums));
      if (side) sums.append(termsPicture(n.terms, side, table));
    }
    const j = f.neuron ? f.neuron.j : -1;
    card.append(el("details", { class: "fold" }, el("summary", {}, `Every neuron of the layer (${f.z.length}): z, b, ${f.symbol}`),
      numberTable(["neuron j", "z_j = w_j·x + b_j", "bias b_j", `${f.symbol}_j (${f.activation})`],
        f.z.map((z, i) => [i, z, f.bias[i], f.a[i]]),
        { limit: LIMIT, highlight: (row) => (row[0] === j ? "hl" : null) })));
    out.append(card);
  }
  if (r.softmax) out.append(renderSoftmax(r.softmax));
  if (r.backward) out.append(renderBackward(r.backward, xs, r.forward, { layer, neuron }));
  else out.append(el("p", { class: "hint" }, "Pick a true label above to see one backward step: how each weight would change."));
}

/** The terms w·x of a first-layer neuron as a picture linked to its table: a row marks its pixel, a pixel its row. */
function termsPicture(terms, side, table) {
  const map = { width: side, height: side, values: terms, scale: Math.max(1e-300, ...terms.map(Math.abs)) };
  const readout = el("p", { class: "hint", testid: "inside-term-readout" }, "The terms as a picture (red +, blue −): point at a pixel.");
  let rows = null;
  const fig = pixelFigure(map, 140, { testid: "inside-terms-picture", onPixel: (pixel) => {
    if (rows) rows.highlight(pixel);
    if (pixel) readout.textContent = `pixel (${pixel[0]}, ${pixel[1]}): w·x = ${num(terms[pixel[0] * side + pixel[1]])}`;
  } });
  const pixelOf = (tr) => {                                // the row names its pixel: "(row, col)"
    const m = /\((\d+), (\d+)\)/.exec(tr.cells[0] ? tr.cells[0].textContent : "");
    return m ? [Number(m[1]), Number(m[2])] : null;
  };
  rows = linkRows(table, pixelOf, (p) => fig.mark(p));     // every row, also after "show all"
  return el("div", {}, fig.node, readout);
}

function renderSoftmax(s) {
  const names = classes();
  // The softmax reads the logits z, or what the activations before it made of them (tanh(z) for tanh → softmax).
  const logits = s.reads === "z";
  const input = logits ? "logit z" : `x = ${s.reads}`;
  const v = logits ? "z" : "x";
  const rows = s.inputs.map((x, k) => [className(names, k), x, s.shifted[k], s.exp[k], s.probabilities[k]]);
  const best = s.probabilities.indexOf(Math.max(...s.probabilities));
  return el("div", { class: "card layer-card", testid: "inside-softmax" },
    el("h3", {}, logits ? "Softmax: from output numbers (logits) to probabilities"
      : `Softmax: from ${s.reads} to probabilities`),
    el("ol", {},
      el("li", {}, logits ? "Start from the logits z, one per class."
        : `Start from what the softmax reads: x = ${s.reads}, one per class (z are the logits).`),
      el("li", {}, `Subtract the largest, ${num(s.max)}, so that exp cannot overflow (the result does not change).`),
      el("li", {}, "Take exp of each."),
      el("li", {}, `Add them up: ${num(s.sum)}.`),
      el("li", {}, "Divide each by the sum: probabilities that add up to 1.")),
    numberTable(["class", input, `${v} − max`, `exp(${v} − max)`, "p = exp / sum"], rows,
      { limit: 10, highlight: (_row, i) => (i === best ? "hl" : null) }));
}

/** "1 − 2.895e−6" when p is that close to 1 (1 − p is the sum of the others' probabilities, from the server);
 * in brackets when it follows a function name ("−log (1 − 2.895e−6)"). */
function probability(p, others, bracket = false) {
  if (others === null || others === undefined || !(p > 0.999)) return num(p, 6);
  return bracket ? `(1 − ${num(others)})` : `1 − ${num(others)}`;
}

/** A bar as long as |v| / scale, yellow when the thing should go up, blue when down. */
function nudgeBar(v, scale, up) {
  const bar = el("span", { class: `nudge-bar ${up ? "up" : "down"}` });
  bar.style.width = `${Math.round(80 * Math.min(1, Math.abs(v) / (scale || 1)))}px`;
  return bar;
}

function renderBackward(b, _xs, forward, chosen) {
  const names = classes();
  const card = el("div", { class: "card layer-card", testid: "inside-backward" },
    el("h3", {}, `One step of learning for the true label ${className(names, b.label)}: backpropagation as nudges`));
  // The effect first: what this one step does to this example's loss (recomputed after the step, by the library).
  card.append(el("p", { class: "nudge-summary", testid: "nudge-summary" },
    `One step of plain SGD with lr = ${num(b.lr)} on this example: loss `,
    el("b", { testid: "loss-before" }, num(b.loss_before, 6)), " → ",
    el("b", { testid: "loss-after" }, num(b.loss_after, 6)), " (change ",
    el("b", { testid: "loss-change" }, num(b.loss_change, 4)), `; the gradient promised ${num(b.linear_change, 4)} for a small step).`));
  card.append(formula(`${b.loss_name} loss: ${b.loss_formula}`));
  if (b.head === "softmax" && b.p_label !== null) {
    card.append(formula(`loss = −log p[${b.label}] = −log ${probability(b.p_label, b.p_others, true)} = `, el("b", { testid: "loss-line" }, num(b.loss_before))));
  } else {
    card.append(formula("loss = ", el("b", { testid: "loss-line" }, num(b.loss_before))));
  }
  card.append(el("p", { class: "idea" }, `Each output should move against its δ (the loss's gradient, ${b.gradient_formula}` +
    (b.head ? `; the loss applies the ${b.head} itself).` : ").") +
    " Going back, each layer's δ says which of its neurons should go up or down and how much that matters; each weight then moves by −lr · δ_j · x_k."));

  // 1. the outputs, largest |δ| first
  const scale = Math.max(...b.outputs.map((o) => Math.abs(o.delta)), 1e-300);
  card.append(el("h3", {}, "1. The outputs: how much each should move"),
    el("ul", { class: "nudge-list", testid: "nudge-outputs" }, b.outputs.map((o) => el("li", { "data-k": o.k },
      el("span", { class: `arrow ${o.move > 0 ? "up" : "down"}` }, o.move > 0 ? "▲" : "▼"),
      `${className(names, o.k)}${o.k === b.label ? " (true)" : ""}: ${b.head ? "p" : "a"} = ${o.k === b.label ? probability(o.value, b.p_others) : num(o.value)}, δ = ${num(o.delta)}`,
      nudgeBar(o.delta, scale, o.move > 0)))));

  // 2. back through the layers, output first
  b.layers.forEach((layer, n) => {
    const f = forward.find((entry) => entry.index === layer.index);
    card.append(renderLayerNudges(layer, n + 2, f, b, chosen));
  });
  return card;
}

function renderLayerNudges(layer, number, f, b, chosen) {
  const side = layer.index === 1 ? pictureSide(layer.x.length) : null;
  const box = el("div", { class: "nudge-layer", testid: `nudge-layer-${layer.index}` });
  const how = layer.name === "output" ? "δ = dL/dz from the loss" : `δ_j = (Wᵀ·δ)_j · f′(z_j), ${f ? `${f.activation}: ${f.derivative_formula}` : ""}`;
  box.append(el("h3", {}, `${number}. ${layer.name === "output" ? "The output layer" : `Back to ${layer.name}`} (layer ${layer.index}) — ${how}`));
  const scale = Math.max(...layer.neurons.map((m) => Math.abs(m.delta)), 1e-300);
  const neurons = el("ul", { class: "nudge-list", testid: `nudge-neurons-${layer.index}` }, layer.neurons.map((m) => el("li", {},
    el("span", { class: `arrow ${m.direction}` }, m.direction === "up" ? "▲" : "▼"),
    `neuron ${m.j} should go ${m.direction}: δ = ${num(m.delta)}`, nudgeBar(m.delta, scale, m.direction === "up"))));
  const name = (i) => (side ? inputName(i, side) : layer.index === 1 ? `input ${i}` : `neuron ${i}`);
  const table = numberTable(["weight", side ? "pixel (row, col)" : "from", "x_k", "δ_j", "dW = δ_j·x_k", "step −lr·dW"],
    layer.weights.map((w) => [`W[${w.j}, ${side ? name(w.i) : w.i}]`, name(w.i), w.x, w.delta, w.dW, w.update]),
    { limit: 10, testid: `nudge-weights-${layer.index}` });
  const output = layer.name === "output";
  const grid = el("div", { class: "nudges" },
    output ? null : el("div", {}, el("p", { class: "hint" }, layer.neurons.length ? "Neurons, largest |δ| first (the ones that matter most):"
      : "Every δ here is 0 (no neuron of this layer can change the loss for this example)."), neurons),
    el("div", {}, el("p", { class: "hint" }, output ? "Their δ are the outputs' above. The weights into them that change most, largest |dW| first:"
      : "The weights that change most, largest |dW| first:"), table));
  box.append(grid);
  if (side && b.input) {
    const fig = pixelFigure(b.input, 140, { testid: `nudge-pixels-${layer.index}`, title: "the input; outlined: the pixels of the weights that change most" });
    fig.markers(layer.weights.map((w) => w.pixel));
    linkRows(table, layer.weights.map((w) => w.pixel), (p) => fig.mark(p));
    grid.append(el("figure", {}, fig.node, el("figcaption", { class: "hint" }, "Outlined: their pixels (hover a row to find its pixel).")));
  }
  // The full tables, one click away.
  const j = layer.row_neuron;
  const why = layer.index === chosen.layer && j === chosen.neuron ? "the neuron you chose" : "the neuron with the largest |δ|";
  const row = layer.dW_row.map((g, k) => [name(k), layer.x[k], g, -b.lr * g]).map((r, k) => [k, ...r])
    .sort((p, q) => Math.abs(q[3]) - Math.abs(p[3])).map((r) => r.slice(1));
  box.append(el("details", { class: "fold", testid: `nudge-full-${layer.index}` },
    el("summary", {}, `All ${layer.delta.length} δ and db of this layer, and row ${j} of dW (${why})`),
    el("div", { class: "math-steps" },
      numberTable(["neuron j", "δ_j = dL/dz_j", "db_j = δ_j"], layer.delta.map((d, i) => [i, d, layer.db[i]]),
        { limit: 10, caption: "δ for every neuron", highlight: (r) => (r[0] === j ? "hl" : null) }),
      numberTable([side ? "pixel (row, col)" : "k", "x_k", `dW[${j},k] = δ_${j}·x_k`, "update −lr·dW"], row,
        { limit: 10, caption: `Row ${j} of dW, largest |dW| first` }))));
  return box;
}
