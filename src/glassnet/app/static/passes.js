// The two passes played over the Draw tab's diagram, layer by layer, with a control to step through them.
// Forward (played on each new drawing): the input, then each layer lit in turn up to the output.
// Backward (for a true label): δ = dL/dz flows from the output back to the first layer; each layer is
// coloured by its δ (yellow: the neuron should go up, δ < 0; blue: down) — the numbers are the server's
// (POST /api/inside: explain.nudges), as is the loss before and after that one step.

import { api } from "./api.js";
import { el, num } from "./widgets.js";
import { classes } from "./state.js";

const FRAME_MS = 420;

export class Passes {
  constructor(diagram, bar, source) {
    this.diagram = diagram;
    this.source = source;       // () => the example the diagram shows ({drawing} or {test_index}) or null
    this.direction = "forward";
    this.step = null;           // null: no pass shown (the diagram as after update())
    this.deltas = null;
    this.backward = null;
    this.timer = null;
    this.label = el("select", { id: "anim-label", "aria-label": "true label for the backward pass" });
    this.status = el("span", { class: "hint anim-status", id: "anim-status", testid: "anim-status", "aria-live": "polite" });
    const button = (id, text, title, fn) => el("button", { type: "button", id, title, onclick: fn }, text);
    bar.append(
      button("anim-forward", "▶ forward pass", "play the forward pass: input → output", () => this.play("forward")),
      button("anim-backward", "◀ backward pass", "play the backward pass: δ from the output back to the first layer",
        () => this.play("backward")),
      el("label", {}, "true label ", this.label),
      button("anim-prev", "‹ step", "one layer back", () => this.move(-1)),
      button("anim-next", "step ›", "one layer on", () => this.move(1)),
      button("anim-stop", "■", "stop and show the whole network", () => this.reset()),
      this.status);
  }

  fillLabels(prediction) {
    const names = classes();
    const chosen = this.label.value;
    while (this.label.firstChild) this.label.firstChild.remove();
    names.forEach((name, k) => this.label.append(el("option", { value: k }, name)));
    this.label.value = chosen !== "" && chosen !== undefined && chosen < names.length ? chosen : String(prediction ?? 0);
  }

  get last() {
    return this.diagram.net ? this.diagram.net.layers.length - 1 : 0;
  }

  /** Play a pass from its start; backward first asks the server for δ with the chosen label. */
  async play(direction) {
    this.stop();
    if (direction === "backward" && !(await this.loadDeltas())) return;
    this.direction = direction;
    this.step = direction === "forward" ? 0 : this.last;
    this.show();
    this.timer = setInterval(() => {
      if (!this.advance()) this.stop();
    }, FRAME_MS);
  }

  async loadDeltas() {
    const src = this.source();
    if (!src) {
      this.status.textContent = "Draw something (or show a test image) first.";
      return false;
    }
    const label = Number(this.label.value || 0);
    const r = await api("POST", "api/inside", { ...src, layer: 1, neuron: 0, label });
    this.backward = r.backward;
    this.deltas = {};
    for (const layer of r.backward.layers) this.deltas[layer.index] = layer.delta;
    return true;
  }

  /** One layer on in the pass's direction; false at its end. */
  advance() {
    const next = this.step + (this.direction === "forward" ? 1 : -1);
    if (next < (this.direction === "forward" ? 0 : 1) || next > this.last) return false;
    this.step = next;
    this.show();
    return true;
  }

  /** The step buttons: one layer on (+1) or back (−1) in the pass shown (forward when none is). */
  async move(by) {
    this.stop();
    if (this.step === null) {
      this.direction = "forward";
      this.step = by > 0 ? -1 : this.last + 1;
    }
    if (this.direction === "backward" && !this.deltas && !(await this.loadDeltas())) return;
    const forward = this.direction === "forward";
    const lo = forward ? 0 : 1;
    this.step = Math.max(lo, Math.min(this.last, this.step + (forward ? by : -by)));
    this.show();
  }

  show() {
    this.diagram.showStep(this.direction, this.step, this.deltas);
    this.status.dataset.direction = this.direction;
    this.status.dataset.step = String(this.step);
    const layers = this.diagram.net.layers;
    const name = this.step === 0 ? "the input" : layers[this.step].name;
    if (this.direction === "forward") {
      this.status.textContent = `Forward pass, ${this.step} of ${this.last}: ${name}` +
        (this.step === 0 ? " (the 28×28 picture)." : ` — z = W·x + b, then ${layers[this.step].activation || "its activation"}.`);
      return;
    }
    const b = this.backward;
    const done = this.step === 1
      ? ` One step of lr ${num(b.lr)} moves the loss from ${num(b.loss_before)} to ${num(b.loss_after)}.` : "";
    this.status.textContent = `Backward pass for label ${classes()[b.label] ?? b.label}, ${this.last - this.step + 1} of ${this.last}: ` +
      `δ of ${name} (yellow: should go up, blue: down).${done}`;
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  /** A new example: forget its δ (they were for the last one). */
  forget() {
    this.deltas = null;
    this.backward = null;
    if (this.direction === "backward") this.reset();
  }

  reset() {
    this.stop();
    this.step = null;
    if (this.diagram.net) this.diagram.showStep(this.direction, null);
    this.status.textContent = "";
  }
}
