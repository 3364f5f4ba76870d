// Inside tab: one example through the network number by number (z = W·x + b, the activation,
// softmax step by step) and, with a true label, one backward step (δ, db, dW, the update).
// The formulas are the server's: each activation's and the loss's own text from the library's
// registry (formula, derivative_formula, loss_formula, gradient_formula), never written here.

import { api, guard } from "./api.js";
import { $, el, clear, num, numberTable } from "./widgets.js";
import { state, on, classes } from "./state.js";

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

/** "a = relu(z) = relu(1.25) = 1.25" as the server writes it, with the value in bold. */
function equation(text, value) {
  const cut = text.lastIndexOf(" = ");
  return [text.slice(0, cut + 3), el("b", {}, num(value))];
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
      const rows = n.weights.map((w, k) => [k, f.x[k], w, n.terms[k]]).sort((a, b) => Math.abs(b[3]) - Math.abs(a[3]));
      const zeros = f.x.filter((v) => v === 0).length;
      const s = sum(n.terms);
      card.append(el("div", { class: "math-steps" },
        numberTable(["k", "input x_k", `weight w_${n.j},k`, "w·x"], rows, { limit: LIMIT, caption: `Neuron ${n.j} (${chosen}): its weighted sum, term by term, largest |w·x| first` }),
        el("div", {},
          formula(`Σ w·x = ${num(s)}  (all ${rows.length} terms added${zeros ? `; ${zeros} inputs are 0, so their terms are 0` : ""})`),
          formula(`z = Σ w·x + b = ${num(s)} ${n.bias < 0 ? "−" : "+"} ${num(Math.abs(n.bias))} = `, el("b", {}, num(n.z))),
          formula(...equation(n.equation, n.a), f.symbol === "p" ? " (the softmax step by step: below)" : ""))));
    }
    const j = f.neuron ? f.neuron.j : -1;
    card.append(numberTable(["neuron j", "z_j = w_j·x + b_j", "bias b_j", `${f.symbol}_j (${f.activation})`],
      f.z.map((z, i) => [i, z, f.bias[i], f.a[i]]),
      { limit: LIMIT, caption: "Every neuron of the layer", highlight: (row) => (row[0] === j ? "hl" : null) }));
    out.append(card);
  }
  if (r.softmax) out.append(renderSoftmax(r.softmax));
  if (r.backward) out.append(renderBackward(r.backward, xs, r.forward, { layer, neuron }));
  else out.append(el("p", { class: "hint" }, "Pick a true label above to see one backward step: how each weight would change."));
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

function renderBackward(b, xs, forward, chosen) {
  const names = classes();
  const card = el("div", { class: "card layer-card", testid: "inside-backward" },
    el("h3", {}, `One backward step for the true label ${className(names, b.label)}`));
  const y = b.values.map((_v, k) => (k === b.label ? 1 : 0));
  const sym = b.head ? "p" : "a";
  card.append(formula(`${b.loss_name} loss: ${b.loss_formula}`));
  if (b.head === "softmax") {
    card.append(formula(`loss = −log p[${b.label}] = −log ${num(b.values[b.label])} = `, el("b", {}, num(b.loss))));
  } else {
    card.append(formula("loss = ", el("b", {}, num(b.loss))));
  }
  card.append(el("p", { class: "idea" }, `The error at the output is the loss's gradient: ${b.gradient_formula}` +
    (b.head ? ` (the loss applies the ${b.head} itself; y is 1 for the true class, 0 elsewhere).`
      : ` (the loss reads the outputs a as they are; t is 1 for the true class, 0 elsewhere).`)));
  const columns = b.head === "softmax" ? ["class", "p", "y", "δ = p − y"]
    : ["class", sym, b.head ? "y" : "t", b.head ? "δ = dL/dz" : "δ = dL/da"];
  card.append(numberTable(columns, b.output_delta.map((d, k) => [className(names, k), b.values[k], y[k], d]),
    { limit: 10, highlight: (_row, k) => (k === b.label ? "hl" : null) }));
  card.append(el("p", { class: "idea" }, `Going back one layer: δ_prev = (Wᵀ·δ) · f′(z). Each weight's gradient is dW[j,k] = δ_j · x_k and db_j = δ_j; plain SGD then moves it by −lr · dW with lr = ${num(b.lr)}.`));
  for (const layer of b.layers) {
    const x = xs[layer.index] || [];
    const j = layer.row_neuron;
    const why = layer.index === chosen.layer && j === chosen.neuron ? "the neuron you chose" : "the neuron with the largest |δ|";
    const f = forward.find((entry) => entry.index === layer.index);
    const below = layer.index < b.layers.length && f ? ` — δ_j = (Wᵀ·δ)_j · f′(z_j), ${f.activation}: ${f.derivative_formula}` : "";
    card.append(el("h3", {}, `Layer ${layer.index}${below}`));
    card.append(el("div", { class: "math-steps" },
      numberTable(["neuron j", "δ_j = dL/dz_j", "db_j = δ_j"], layer.delta.map((d, i) => [i, d, layer.db[i]]),
        { limit: LIMIT, caption: "δ for every neuron", highlight: (row) => (row[0] === j ? "hl" : null) }),
      numberTable(["k", "x_k", `dW[${j},k] = δ_${j}·x_k`, "update −lr·dW"], layer.dW_row.map((g, k) => [k, x[k] ?? "–", g, layer.update_row[k]]),
        { limit: LIMIT, caption: `Row ${j} of dW (${why})` })));
  }
  return card;
}
