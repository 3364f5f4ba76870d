// Evaluate tab: test accuracy, the confusion matrix (click a cell to see its images),
// the most confident mistakes, and the descent lab (the loss along one weight).

import { api, guard } from "./api.js";
import { $, el, clear, figure, lineChart, num, pct, scrollHint, short } from "./widgets.js";
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

async function descent() {
  const r = await api("POST", "api/descent", { seed: Math.round(Number($("descent-seed").value)) || 0 });
  const weight = `${r.param}[${[].concat(r.index).join(", ")}]`;
  const chart = $("descent-chart");
  chart.removeAttribute("hidden");   // an <svg> has no .hidden property
  const curveLosses = r.curve.losses.filter(Number.isFinite);
  const low = Math.min(...curveLosses);
  const high = Math.max(...curveLosses);
  lineChart(chart, {
    width: 900, height: 340, xLabel: `the weight ${weight}`, yLabel: "loss",
    xDomain: [Math.min(...r.curve.weights), Math.max(...r.curve.weights)],
    yDomain: [low - 0.05 * (high - low), high + 0.05 * (high - low)],
    series: [
      { id: "descent-curve", label: "loss along this weight", colour: "#334155", points: r.curve.weights.map((w, i) => [w, r.curve.losses[i]]) },
      ...r.paths.map((p, k) => ({ id: `descent-path-${k}`, label: `${p.label} (lr ${short(p.lr)})`, colour: PATH_COLOURS[k % PATH_COLOURS.length],
        dots: true, width: 1.2, dash: "4 3", points: p.weights.map((w, i) => [w, p.losses[i]]) })),
    ],
    notes: [{ x: r.w0, y: r.loss0, text: "start", colour: "#334155" }],
  });
  const text = clear($("descent-text"));
  text.append(el("p", { class: "explain" }, `The weight ${weight}${r.layer ? ` (${r.layer})` : ""} is ${num(r.w0)} now; the loss there is ${num(r.loss0)} and its slope ∂loss/∂w is ${num(r.slope)}. Each path starts there and takes steps w ← w − lr · slope:`));
  const list = el("ul", { testid: "descent-verdicts" });
  r.paths.forEach((p, k) => {
    const swatch = el("span", { class: "swatch" }, "●");
    swatch.style.color = PATH_COLOURS[k % PATH_COLOURS.length];
    list.append(el("li", {}, swatch, " ", el("b", {}, `${p.label}, lr = ${short(p.lr)}: `), p.verdict));
  });
  text.append(list);
  if (r.rule) text.append(el("p", { class: "hint" }, r.rule));
  const fd = r.finite_difference;
  const agree = fd.rel_error < 1e-3;
  text.append(el("p", { class: "formula", testid: "descent-fd" },
    `Check the slope by trying w + h and w − h: L(w+h) = ${num(fd.loss_plus, 7)}, L(w−h) = ${num(fd.loss_minus, 7)}, `,
    `(L(w+h) − L(w−h)) / 2h = ${num(fd.slope, 6)} with h = ${num(fd.h)}; `,
    `backpropagation says ${num(fd.backprop, 6)}; relative difference ${num(fd.rel_error, 2)} `,
    el("b", { class: agree ? "good" : "bad" }, agree ? "✓ they agree" : "✗ they differ")));
}
