// Why this digit (Draw tab), next to the prediction: the contribution map x·W_eff[winner] and the contrast
// with the runner-up x·(W_eff[winner] − W_eff[runner-up]), exactly as glassnet.explain computes them
// (the server's "why" in POST /api/predict), pixels linked to the diagram's input; and a neuron's
// connections and what drives it, for the neuron panel. No number is computed here.

import { el, clear, num, numberTable, figure } from "./widgets.js";
import { inputName, linkRows, pictureSide, pixelFigure } from "./pixels.js";
import { classes } from "./state.js";

/** The contribution and contrast maps into CONTAINER; hovering a pixel tells its share and marks it on the diagram. */
export function renderWhy(container, why, diagram) {
  clear(container);
  if (!why) return;
  const names = classes();
  const win = names[why.winner] ?? String(why.winner);
  const run = names[why.runner_up] ?? String(why.runner_up);
  const side = why.image_shape ? why.image_shape[1] : null;
  const readout = el("p", { class: "hint", testid: "why-pixel" }, "Point at a pixel to see its share.");
  const onPixel = (name, map) => (pixel) => {
    diagram.markPixel(pixel);
    if (!pixel) return;
    const v = map.values[pixel[0] * map.width + pixel[1]];
    readout.textContent = `pixel (${pixel[0]}, ${pixel[1]}): ${num(v)} ${name}`;
  };
  const size = 140;
  const contribution = pixelFigure(why.contribution, size, { testid: "why-contribution", title: `for ${win}: red, against: blue`,
    onPixel: onPixel(`toward ${win}`, why.contribution) });
  const contrast = pixelFigure(why.contrast, size, { testid: "why-contrast", title: `${win} rather than ${run}: red`,
    onPixel: onPixel(`toward ${win} rather than ${run}`, why.contrast) });
  const logit = why.logits[why.winner];
  const bias = why.effective_bias[why.winner];
  container.append(
    el("h3", {}, `Why “${win}”`),
    el("div", { class: "why" },
      el("figure", {}, contribution.node,
        el("figcaption", {}, `Each pixel’s push toward “${win}” (red for, blue against). They add up to `,
          el("b", {}, num(why.contribution_sum)), ` = z_${why.winner} − b_eff = ${num(logit)} ${bias < 0 ? "+" : "−"} ${num(Math.abs(bias))}.`)),
      el("figure", {}, contrast.node,
        el("figcaption", {}, `“${win}” rather than the runner-up “${run}”: red pixels favour ${win}, blue ${run}; sum `,
          el("b", {}, num(why.contrast_sum)), "."))),
    readout,
    el("p", { class: "hint" }, side ? "The network is, for this drawing, one weight per pixel (the path its neurons take): these are the pixels times those weights."
      : "The inputs times the network's effective weights for this example."));
}

/** The diagram's connections for an open neuron R (POST /api/neuron): incoming and outgoing, by |w·a| or |w|. */
export function neuronEdges(r, byTerm) {
  const value = (c) => (byTerm && c.term !== 0 ? c.term : c.w);
  return [
    ...r.incoming.map((c) => ({ from: [r.layer - 1, c.i], to: [r.layer, r.neuron], value: value(c) })),
    ...r.outgoing.map((c) => ({ from: [r.layer, r.neuron], to: [r.layer + 1, c.j], value: value(c) })),
  ];
}

/** The connections panel: its strongest weights in and out as tables, pixels named (row, col). */
export function renderConnections(container, r, diagram) {
  clear(container);
  const side = r.layer === 1 ? pictureSide(r.n_inputs) : null;
  const from = (i) => (r.layer === 1 ? (side ? `pixel ${inputName(i, side)}` : `input ${i}`) : `${r.layer - 1 === 0 ? "input" : "neuron"} ${i}`);
  const rows = r.incoming.map((c) => [from(c.i), c.w, c.term]);
  const table = numberTable(["from", "weight w", "w·a (this drawing)"], rows, { limit: 8, testid: "neuron-incoming" });
  container.append(el("div", {}, el("h3", {}, "Strongest connections in"), table));
  if (side) {
    const pixels = r.incoming.map((c) => c.pixel);
    linkRows(table, pixels, (p) => diagram.markPixel(p));
  }
  if (r.outgoing.length) {
    const names = classes();
    const next = diagram.net.layers[r.layer + 1];
    const to = (j) => (r.layer + 1 === diagram.net.layers.length - 1 ? `class ${names[j] ?? j}` : `${next.name} neuron ${j}`);
    container.append(el("div", {}, el("h3", {}, "Strongest connections out"),
      numberTable(["to", "weight w", "w·a (this drawing)"], r.outgoing.map((c) => [to(c.j), c.w, c.term]),
        { limit: 8, testid: "neuron-outgoing" })));
  }
}

/** The output neuron's panel: every class's logit z and softmax p, this one highlighted. */
export function renderOutputNumbers(container, r) {
  clear(container);
  if (!r.logits) return;
  const names = classes();
  container.append(el("h3", {}, "Every output: logit z and softmax p"),
    numberTable(["class", "logit z", r.symbol === "p" || r.activation.includes("softmax") ? "p = softmax(z)" : "a"],
      r.logits.map((z, k) => [names[k] ?? String(k), z, r.probabilities[k]]),
      { limit: 12, testid: "neuron-output-numbers", highlight: (_row, k) => (k === r.neuron ? "hl" : null) }));
}

/** What drives a deeper neuron, one weight per pixel for this drawing: its effective input weights (R.effective). */
export function renderEffective(container, r) {
  clear(container);
  if (!r.effective) return;
  container.append(el("h3", {}, "What drives it, one weight per pixel (for this drawing)"),
    el("div", { class: "why", testid: "neuron-effective" },
      figure(r.effective.weights, "its effective input weights: z = Σ W_eff·x + b_eff along the path this drawing takes (red +, blue −)", 112),
      figure(r.effective.terms, `x · W_eff: they add up to z − b_eff = z ${r.effective.bias < 0 ? "+" : "−"} ${num(Math.abs(r.effective.bias))}`, 112)));
}

/** What drives a neuron: the test images that excite it most (D: POST /api/neuron/drivers). */
export function renderDrivers(container, d) {
  clear(container);
  const names = classes();
  container.append(el("h3", {}, "The test images that excite it most"),
    el("div", { class: "drivers", testid: "neuron-drivers" },
      d.images.filter((im) => im.image).map((im) => figure(im.image, `#${im.test_index} (${names[im.label] ?? im.label}): a = ${num(im.a)}`, 56))));
}
