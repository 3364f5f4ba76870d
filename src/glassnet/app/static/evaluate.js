// Evaluate tab: test accuracy, the confusion matrix (click a cell to see its images),
// the most confident mistakes, and the descent lab (three step sizes, each path on its own chart).

import { api, guard } from "./api.js";
import { $, el, svg, clear, figure, lineChart, num, pct, scrollHint, short } from "./widgets.js";
import { on, emit, classes } from "./state.js";

let stale = true;
const PATH_COLOURS = ["#2563eb", "#15803d", "#c2261d", "#7c3aed"];   // too small, about right, too big

export function init() {
  $("evaluate-run").addEventListener("click", guard(evaluate));
  $("mistakes-run").addEventListener("click", guard(mistakes));
  $("descent-run").addEventListener("click", guard(descent));
  on("weights", () => { stale = true; });
  on("network", () => { stale = true; });
}

export function shown() {
  if (stale) return evaluate();
  return undefined;
}

async function evaluate() {
  stale = false;
  const r = await api("GET", "api/evaluate");
  $("eval-accuracy").textContent = pct(r.accuracy, 2);
  $("eval-loss").textContent = num(r.loss, 3);
  $("eval-n").textContent = r.n.toLocaleString("en");
  renderConfusion(r);
}

function renderConfusion(r) {
  const names = r.classes || classes();
  const C = r.confusion;
  const head = el("tr", {}, el("th", { class: "axis-note", title: "rows: the true digit; columns: what the network said" }, "true \\ said"), names.map((n) => el("th", {}, n)), el("th", {}, "right"));
  const body = el("tbody");
  C.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    const tr = el("tr", {}, el("th", {}, names[i]));
    row.forEach((count, j) => {
      const share = total ? count / total : 0;
      const button = el("button", { type: "button", testid: `cell-${i}-${j}`, class: count ? "" : "zero",
        title: `true ${names[i]}, said ${names[j]}: ${count} images (${pct(share)} of the ${names[i]}s)` }, String(count));
      // Colour by share of the row: green on the diagonal, red off it.
      const alpha = i === j ? share : Math.min(1, share * 5);
      button.style.background = i === j ? `rgba(21, 128, 61, ${alpha.toFixed(3)})` : `rgba(194, 38, 29, ${alpha.toFixed(3)})`;
      if (alpha > 0.55) button.style.color = "#fff";
      button.addEventListener("click", guard(() => showCell(i, j, button)));
      tr.append(el("td", {}, button));
    });
    const perClass = r.per_class ? r.per_class[i] : null;
    tr.append(el("td", { class: "axis-note" }, perClass ? pct(perClass.accuracy) : pct(total ? row[i] / total : 0)));
    body.append(tr);
  });
  clear($("confusion")).append(scrollHint(el("div", { class: "table-wrap" }, el("table", { class: "confusion" }, el("thead", {}, head), body))));
}

function openable(item, caption, extraClass) {
  const fig = figure(item.image, caption, 84, extraClass);
  fig.title = `test image #${item.test_index}: click to look at it in the Draw tab`;
  fig.classList.add("clickable");
  fig.dataset.testIndex = item.test_index;
  fig.addEventListener("click", () => emit("open-test", item.test_index));
  return fig;
}

async function showCell(i, j, button) {
  for (const b of document.querySelectorAll("table.confusion button.picked")) b.classList.remove("picked");
  button.classList.add("picked");
  const names = classes();
  const r = await api("GET", `api/evaluate/cell?true=${i}&predicted=${j}&limit=36`);
  $("cell-title").textContent = `True ${names[i]}, said ${names[j]}: ${r.count} image${r.count === 1 ? "" : "s"}` +
    (r.count > r.items.length ? ` (first ${r.items.length})` : "");
  const box = clear($("cell-images"));
  if (!r.items.length) box.append(el("p", { class: "hint" }, "No images here."));
  for (const item of r.items) box.append(openable(item, `#${item.test_index} · ${pct(item.confidence, 0)}`, i === j ? "right" : "wrong"));
}

async function mistakes() {
  const names = classes();
  const r = await api("GET", "api/evaluate/mistakes?limit=24");
  const box = clear($("mistakes"));
  if (!r.items.length) box.append(el("p", { class: "hint" }, "No mistakes on the test set."));
  for (const item of r.items) {
    box.append(openable(item, `true ${names[item.label]} → said ${names[item.prediction]} (${pct(item.confidence, 0)})`, "wrong"));
  }
}

// The descent lab: the three paths each on a chart of its own (its own scale: a too-big path's zig-zag
// would hide the other two), then the loss after each step of all three (log scale when it spans decades).
const SPACE_NAMES = { weight: "one weight", gradient: "the downhill direction over all the weights", plane: "a plane of two directions" };

function readable(points, start) {
  // a diverging path's far points would flatten the picture: keep the points whose loss is readable
  const limit = start + 2 * Math.max(Math.abs(start), 1e-3);
  const kept = points.filter((q) => Number.isFinite(q[0]) && Number.isFinite(q[1]) && q[2] <= limit);
  return kept.length > 1 ? kept : points.slice(0, 2);
}

function pathPanel(r, p, k) {
  const colour = PATH_COLOURS[k % PATH_COLOURS.length];
  const chart = svg("svg", { "data-testid": `descent-panel-${k}`, role: "img", "aria-label": `the path with a step ${p.label}` });
  const title = el("b", {}, `${p.label}, lr = ${short(p.lr)}`);
  const box = el("figure", { class: "descent-panel" }, chart, el("figcaption", {}, title));
  // set through the style objects: the page's Content-Security-Policy refuses style attributes
  Object.assign(chart.style, { width: "100%", height: "auto", display: "block" });
  title.style.color = colour;
  box.style.margin = "0";
  box.style.minWidth = "0";
  if (r.space === "plane") {
    const pts = readable(p.alphas.map((a, i) => [a, p.betas[i], p.losses[i]]), r.loss0);
    lineChart(chart, { width: 360, height: 260, xLabel: "alpha (downhill)", yLabel: "beta",
      series: [{ id: `descent-path-${k}`, label: p.label, colour, dots: true, width: 1.4, points: pts.map((q) => [q[0], q[1]]) }],
      notes: [{ x: 0, y: 0, text: "start", colour: "#334155" }] });
  } else {
    const xs = p.weights || p.distances;
    const curve = p.curve.weights || p.curve.distances;
    const pts = readable(xs.map((x, i) => [x, p.losses[i], p.losses[i]]), r.loss0);
    lineChart(chart, { width: 360, height: 260, xLabel: r.space === "weight" ? "weight value" : "distance along the gradient", yLabel: "loss",
      series: [
        { id: `descent-curve-${k}`, label: "loss", colour: "#334155", points: curve.map((x, i) => [x, p.curve.losses[i]]).filter((q) => Number.isFinite(q[1])) },
        { id: `descent-path-${k}`, label: p.label, colour, dots: true, width: 1.2, dash: "4 3", points: pts.map((q) => [q[0], q[1]]) },
      ] });
  }
  if (leavesPicture(r, p)) box.append(el("p", { class: "hint" }, "Its later steps leave the picture: the loss there is too high to draw on this scale."));
  return box;
}

function leavesPicture(r, p) {
  const limit = r.loss0 + 2 * Math.max(Math.abs(r.loss0), 1e-3);
  return p.losses.some((v) => !Number.isFinite(v) || v > limit);
}

async function descent() {
  const space = $("descent-space").value;
  clear($("descent-panels"));
  clear($("descent-text")).append(el("p", { class: "hint" }, `Running the lab in ${SPACE_NAMES[space]}: a few hundred gradient steps…`));
  const r = await api("POST", "api/descent", { seed: Math.round(Number($("descent-seed").value)) || 0, space });
  const chart = $("descent-chart");
  chart.removeAttribute("hidden");   // an <svg> has no .hidden property
  const losses = r.paths.flatMap((p) => p.losses).filter((v) => Number.isFinite(v) && v > 0);
  const spans = losses.length && Math.max(...losses) / Math.min(...losses) > 100;
  lineChart(chart, {
    width: 900, height: 300, xLabel: "step", yLabel: spans ? "loss (log scale)" : "loss", integerX: true, yLog: spans,
    series: r.paths.map((p, k) => ({ id: `descent-steps-${k}`, label: `${p.label} (lr ${short(p.lr)})`, colour: PATH_COLOURS[k % PATH_COLOURS.length],
      dots: true, width: 1.4, points: p.losses.map((v, i) => [i, v]) })),
  });
  const panels = clear($("descent-panels"));
  panels.style.display = "grid";
  panels.style.gridTemplateColumns = "repeat(auto-fit, minmax(min(100%, 240px), 1fr))";
  panels.style.gap = "0.8rem";
  r.paths.forEach((p, k) => panels.append(pathPanel(r, p, k)));
  const text = clear($("descent-text"));
  if (r.space === "weight") {
    const weight = `${r.param}[${[].concat(r.index).join(", ")}]`;
    text.append(el("p", { class: "explain" }, `The weight ${weight}${r.layer ? ` (${r.layer})` : ""} is ${num(r.w0)} now; the loss there is ${num(r.loss0)} and its slope ∂loss/∂w is ${num(r.slope)}. Each path starts there and takes steps w ← w − lr · slope:`));
  } else if (r.space === "gradient") {
    text.append(el("p", { class: "explain" }, `All the weights move together along the gradient (its length is ${num(r.gradient_norm)}): the direction training takes. The loss is ${num(r.loss0)} now; the lowest on this line is ${num(r.line_search.loss)}, a step of lr = ${short(r.line_search.lr)} lands there at once. Each path takes steps w ← w − lr · gradient:`));
  } else {
    text.append(el("p", { class: "explain" }, `All the weights move in a plane of two directions, downhill (alpha) and a random one (beta); the loss is ${num(r.loss0)} now. Each path takes gradient-descent steps inside the plane:`));
  }
  const list = el("ul", { testid: "descent-verdicts" });
  r.paths.forEach((p, k) => {
    const swatch = el("span", { class: "swatch" }, "●");
    swatch.style.color = PATH_COLOURS[k % PATH_COLOURS.length];
    list.append(el("li", { "data-kind": p.kind, "data-as-labelled": String(p.as_labelled) }, swatch, " ", el("b", {}, `${p.label}, lr = ${short(p.lr)}: `), p.verdict));
  });
  text.append(list);
  if (r.note) text.append(el("p", { class: "hint", testid: "descent-note" }, r.note.charAt(0).toUpperCase() + r.note.slice(1) + "."));
  if (r.rule) text.append(el("p", { class: "hint" }, `How the steps were chosen (in ${SPACE_NAMES[r.space]}): ${r.rule}.`));
  const fd = r.finite_difference;
  if (!fd) return;
  const agree = fd.rel_error < 1e-3;
  text.append(el("p", { class: "formula", testid: "descent-fd" },
    `Check the slope by trying w + h and w − h: L(w+h) = ${num(fd.loss_plus, 7)}, L(w−h) = ${num(fd.loss_minus, 7)}, `,
    `(L(w+h) − L(w−h)) / 2h = ${num(fd.slope, 6)} with h = ${num(fd.h)}; `,
    `backpropagation says ${num(fd.backprop, 6)}; relative difference ${num(fd.rel_error, 2)} `,
    el("b", { class: agree ? "good" : "bad" }, agree ? "✓ they agree" : "✗ they differ")));
}
