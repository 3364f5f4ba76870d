// My handwriting tab: label your own drawings, see how each is preprocessed, keep them as a small
// dataset, and fine-tune the network on them (mixed with training images).

import { api, guard, notify } from "./api.js";
import { $, el, clear, DrawPad, figure, numberTable, pct, pictureCanvas } from "./widgets.js";
import { on, emit, classes, refreshSession } from "./state.js";
import { backToLatest } from "./train.js";

let pad = null;
let loaded = false;

export function init() {
  pad = new DrawPad($("hw-canvas"));
  $("hw-clear").addEventListener("click", () => pad.clear());
  $("hw-add").addEventListener("click", guard(add));
  $("hw-finetune-form").addEventListener("submit", guard(finetune));
  on("session", fillLabels);
  on("weights", () => { loaded = false; });   // predictions of the drawings changed
}

export function shown() {
  if (!loaded) return refresh();
  return undefined;
}

function fillLabels() {
  const select = $("hw-label");
  const chosen = select.value;
  clear(select);
  classes().forEach((name, k) => select.append(el("option", { value: k }, name)));
  select.value = chosen || "0";
}

async function add() {
  if (pad.empty) {
    notify("Draw a digit first.", "error");
    return;
  }
  const label = Number($("hw-label").value);
  const r = await api("POST", "api/drawings", { drawing: pad.image(140), label });
  const names = classes();
  const steps = clear($("hw-steps"));
  for (const step of r.steps) {
    const caption = el("figcaption", {}, el("b", {}, step.name), step.description);
    steps.append(el("figure", { class: "thumb", testid: "hw-step" }, pictureCanvas(step.image, 96), caption));
  }
  const right = r.prediction === r.label;
  steps.append(el("p", { class: right ? "good" : "bad" },
    `You said ${names[r.label]}; the network says ${names[r.prediction]}${right ? " ✓" : " ✗"}.`));
  pad.clear();
  await refresh();
}

async function refresh() {
  loaded = true;
  const r = await api("GET", "api/drawings");
  const names = classes();
  const gallery = clear($("hw-gallery"));
  if (!r.items.length) gallery.append(el("p", { class: "hint" }, "No drawings yet."));
  for (const item of r.items) {
    const right = item.prediction === item.label;
    const remove = el("button", { type: "button", testid: `hw-delete-${item.id}`, title: "delete this drawing" }, "delete");
    remove.addEventListener("click", guard(async () => {
      await api("DELETE", `api/drawings/${item.id}`);
      await refresh();
    }));
    gallery.append(el("div", { class: `drawing-item ${right ? "right" : "wrong"}`, testid: "hw-item" },
      pictureCanvas(item.image, 70),
      el("span", {}, `drawn ${names[item.label]} · said ${names[item.prediction]} ${right ? "✓" : "✗"}`),
      remove));
  }
  const counts = clear($("hw-counts"));
  const total = r.per_digit.reduce((a, d) => a + d.n, 0);
  const correct = r.per_digit.reduce((a, d) => a + d.correct, 0);
  counts.append(el("p", { class: "explain" }, total
    ? `${total} drawing${total === 1 ? "" : "s"}; the network reads ${correct} of them right (${pct(correct / total)}).`
    : "Draw and add a few of each digit, then fine-tune."));
  if (total) {
    counts.append(numberTable(["digit", ...r.per_digit.map((d) => names[d.digit])],
      [["drawings", ...r.per_digit.map((d) => d.n)], ["read right", ...r.per_digit.map((d) => d.correct)]], { limit: 2 }));
  }
}

async function finetune(event) {
  event.preventDefault();
  const button = $("hw-finetune");
  button.disabled = true;
  button.textContent = "Fine-tuning…";
  try {
    await backToLatest("fine-tune");
    const r = await api("POST", "api/drawings/finetune", {
      epochs: Math.round(Number($("hw-epochs").value)),
      lr: Number($("hw-lr").value),
      mix: Math.round(Number($("hw-mix").value)),
    });
    const names = classes();
    const before = new Map(r.before.per_digit.map((d) => [d.digit, d]));
    const rows = r.after.per_digit.filter((d) => d.n > 0 || (before.get(d.digit) || {}).n > 0).map((d) => {
      const b = before.get(d.digit) || { n: 0, correct: 0 };
      return [names[d.digit], d.n, `${b.correct} / ${b.n}`, `${d.correct} / ${d.n}`];
    });
    const out = clear($("hw-finetune-result"));
    out.append(
      el("p", { class: "explain" }, "On your drawings: ", el("b", {}, pct(r.before.accuracy)), " before → ", el("b", {}, pct(r.after.accuracy)), " after."),
      el("p", { class: "explain" }, "On the test set (everyone else's handwriting): ", el("b", {}, pct(r.before.test_accuracy, 2)), " before → ",
        el("b", {}, pct(r.after.test_accuracy, 2)), " after."),
      numberTable(["digit", "drawings", "right before", "right after"], rows, { limit: 10, testid: "hw-finetune-table" }));
    if (r.held_out) {
      out.append(el("p", { class: "hint" }, `${r.held_out} drawing${r.held_out === 1 ? " was" : "s were"} held out (not trained on): `,
        `${pct(r.before.held_out_accuracy)} right before → ${pct(r.after.held_out_accuracy)} after. `,
        `Trained on ${r.trained_on} drawings mixed with ${r.mixed_with} training images, ${r.epochs} epochs at lr ${r.lr}.`));
    } else {
      out.append(el("p", { class: "hint" }, `Trained on ${r.trained_on} drawings mixed with ${r.mixed_with} training images, ${r.epochs} epochs at lr ${r.lr}. `,
        "With 4 or more drawings of a digit, every fourth is held out to check on drawings it has not trained on."));
    }
    loaded = false;
    await refreshSession();
    emit("weights");
    await refresh();
  } finally {
    button.disabled = false;
    button.textContent = "Fine-tune";
  }
}
