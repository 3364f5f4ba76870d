// The network diagram: the input picture, then every layer as a column (or a grid, for big
// layers) of circles, each lit by its neuron's value for the example being looked at.
// Brightness is scaled per layer (value / largest |value| in that layer); for the output it is
// the probability itself. Clicking a circle calls onPick(layer, neuron).
// Over it: connections (showConnections: colour = sign, thickness = |weight| or |weight·value|,
// an input pixel's end on its place in the input picture), a marked pixel (markPixel), and the
// passes played layer by layer (showStep: forward lights the layers up to one, backward colours
// them by δ from the output down).

import { num, pct, svg, clear, pictureURL } from "./widgets.js";

const DARK = [34, 42, 53];
const LIT = [255, 214, 74];    // positive values glow yellow
const COLD = [90, 176, 255];   // negative values (tanh, leaky ReLU) glow blue
const MAX_DRAWN = 1024;        // neurons drawn per layer

function mix(a, b, t) {
  return `rgb(${a.map((v, i) => Math.round(v + (b[i] - v) * t)).join(",")})`;
}

export function neuronColour(t) {
  if (!Number.isFinite(t)) return "rgb(255,0,255)";
  return t >= 0 ? mix(DARK, LIT, Math.min(1, t)) : mix(DARK, COLD, Math.min(1, -t));
}

export class NetworkDiagram {
  constructor(target, { onPick = null, onHover = null, width = 1120, height = 440, testid = "diagram" } = {}) {
    this.svg = target;
    this.onPick = onPick;
    this.onHover = onHover;
    this.W = width;
    this.H = height;
    this.testid = testid;
    this.circles = [];   // per layer index: array of circle elements
    this.values = [];
    this.net = null;
    this.selected = null;
    target.setAttribute("viewBox", `0 0 ${width} ${height}`);   // setNetwork() fits the height
    target.setAttribute("class", "diagram");
    target.addEventListener("click", (e) => {
      const c = e.target.closest("circle.neuron");
      if (c && this.onPick) this.onPick(Number(c.dataset.layer), Number(c.dataset.neuron));
    });
    // The keyboard: the diagram takes focus as one stop (Tab), the arrows move between neurons
    // (up/down within a layer, left/right between layers), Enter or Space opens the neuron.
    target.setAttribute("tabindex", "0");
    target.setAttribute("aria-label", "network diagram: arrow keys move between neurons, Enter opens one");
    target.addEventListener("keydown", (e) => this.key(e));
    target.addEventListener("mouseover", (e) => {
      const c = e.target.closest("circle.neuron");
      if (!c || !this.onHover) return;
      const layer = Number(c.dataset.layer);
      const j = Number(c.dataset.neuron);
      const info = this.net.layers[layer];
      const v = this.values[layer] ? this.values[layer][j] : undefined;
      this.onHover(`${info.name}, neuron ${j}${v === undefined ? "" : `: value ${num(v)}`} (click or tap to open it)`);
    });
  }

  /** Lay out the circles for a network NET (from the server). */
  setNetwork(net, classNames) {
    this.net = net;
    this.classNames = classNames;
    this.circles = [];
    this.values = [];
    clear(this.svg);
    const layers = net.layers;
    const titleH = 30;
    const maxContent = this.H - titleH - 14;
    const inputW = 150;
    const outputW = 170;
    const hidden = layers.slice(1, -1);
    const hiddenW = hidden.length ? Math.min(260, (this.W - inputW - outputW) / hidden.length) : 0;
    // A small network does not need the whole width: centre it.
    const used = inputW + hidden.length * hiddenW + outputW;
    const root = svg("g", { transform: `translate(${Math.max(0, (this.W - used) / 2).toFixed(1)} 0)` });
    this.svg.append(root);
    // First each column's grid: the biggest cell (up to 26 px) that fits its neurons into the height.
    const columns = [];
    let x = inputW;
    for (const layer of layers.slice(1)) {
      const isOutput = layer.index === layers.length - 1;
      const w = isOutput ? outputW : hiddenW;
      const n = Math.min(layer.size, MAX_DRAWN);
      const usableW = isOutput ? 40 : w - 24;
      let cell = 26;
      let cols = 1;
      for (; cell > 2; cell -= 0.25) {
        cols = Math.max(1, Math.floor(usableW / cell));
        if (Math.ceil(n / cols) * cell <= maxContent) break;
      }
      if (n * cell <= maxContent) cols = 1;
      cols = Math.min(cols, n);
      columns.push({ layer, x, w, n, cell, cols, rows: Math.ceil(n / cols), isOutput });
      x += w;
    }
    // Then the height: just what the tallest column (or the input picture) needs.
    const content = Math.max(120, ...columns.map((c) => c.rows * c.cell));
    const H = Math.ceil(content + titleH + 14);
    this.svg.setAttribute("viewBox", `0 0 ${this.W} ${H}`);
    const top = titleH;
    const mid = top + content / 2;
    // The input: the 28x28 picture the network sees (filled in by update()).
    root.append(svg("text", { class: "layer-title", x: 16, y: 20 }, `input · ${layers[0].size}`));
    this.inputImage = svg("image", { x: 16, y: mid - 56, width: 112, height: 112, class: "pixelated", preserveAspectRatio: "none", testid: `${this.testid}-input` });
    root.append(svg("rect", { x: 15, y: mid - 57, width: 114, height: 114, class: "input-frame" }), this.inputImage);
    this.inputBox = { x: 16, y: mid - 56, size: 112 };
    const links = svg("g", { class: "links" });
    root.append(links);
    this.positions = [];
    for (const col of columns) {
      const { layer, n, cell, cols, rows, isOutput } = col;
      const x0 = col.x + (isOutput ? 20 : (col.w - cols * cell) / 2) + cell / 2;
      const y0 = mid - (rows * cell) / 2 + cell / 2;
      const group = svg("g", { class: "layer", "data-layer": layer.index });
      const title = `${layer.name} · ${layer.size}${layer.activation ? ` ${layer.activation}` : ""}`;
      group.append(svg("text", { class: "layer-title", x: isOutput ? col.x + 4 : col.x + col.w / 2, y: 20, "text-anchor": isOutput ? "start" : "middle" }, title));
      const circles = [];
      const pos = [];
      for (let j = 0; j < n; j++) {
        const cx = x0 + (j % cols) * cell;
        const cy = y0 + Math.floor(j / cols) * cell;
        const c = svg("circle", { cx: cx.toFixed(1), cy: cy.toFixed(1), r: Math.max(0.8, cell * 0.42).toFixed(2), class: "neuron",
          fill: neuronColour(0), "data-layer": layer.index, "data-neuron": j, testid: `neuron-${layer.index}-${j}` });
        circles.push(c);
        pos.push([cx, cy, cols === 1]);
        group.append(c);
        if (isOutput) {
          group.append(svg("text", { class: "class-label", x: cx + cell * 0.6, y: cy + 4, "data-class": j }, this.classNames[j] ?? String(j)));
        }
      }
      if (layer.size > n) group.append(svg("text", { class: "layer-note", x: col.x + col.w / 2, y: H - 2, "text-anchor": "middle" }, `first ${n} of ${layer.size} drawn`));
      this.circles[layer.index] = circles;
      this.positions[layer.index] = pos;
      root.append(group);
    }
    // Connections, only where they stay readable: two single columns with few neurons.
    for (let i = 2; i < layers.length; i++) {
      const a = this.positions[i - 1];
      const b = this.positions[i];
      if (!a || !b || !a[0][2] || !b[0][2] || a.length * b.length > 1200) continue;
      for (const p of a) for (const q of b) links.append(svg("line", { x1: p[0], y1: p[1], x2: q[0], y2: q[1] }));
    }
    this.connections = svg("g", { class: "connections", testid: `${this.testid}-connections` });
    this.pixelMark = svg("rect", { class: "pixel-mark", width: 6, height: 6, visibility: "hidden", testid: `${this.testid}-pixel` });
    links.after(this.connections);        // under the neurons: a tap on a circle is never taken by a line
    root.append(this.pixelMark);
    this.groups = Array.from(this.svg.querySelectorAll("g.layer"));
    this.outputLabels = Array.from(this.svg.querySelectorAll("text.class-label"));
    this.markEdits(this.edits || []);
    if (this.selected) this.select(this.selected.layer, this.selected.neuron);
  }

  /** Light the neurons: `prediction` is a POST /api/predict answer. */
  update(prediction) {
    if (!this.net) return;
    if (prediction.input) this.inputImage.setAttribute("href", pictureURL(prediction.input));
    const last = this.net.layers.length - 1;
    for (const layer of prediction.layers) {
      const circles = this.circles[layer.index];
      if (!circles) continue;
      // The output is shown as probabilities (the values there are the logits, before softmax).
      const values = layer.index === last && prediction.probabilities ? prediction.probabilities : layer.values;
      this.values[layer.index] = values;
      const scale = layer.index === last ? 1 : Math.max(1e-12, ...values.slice(0, MAX_DRAWN).map((v) => Math.abs(v)));
      circles.forEach((c, j) => c.setAttribute("fill", neuronColour(values[j] / scale)));
    }
    const probs = prediction.probabilities || [];
    this.outputLabels.forEach((t, k) => {
      t.textContent = `${this.classNames[k] ?? k}  ${pct(probs[k], 0)}`;
      t.classList.toggle("winner", k === prediction.prediction);
    });
  }

  /** Where neuron I of LAYER sits (layer 0: pixel I of the 28×28 input picture), or null when not drawn. */
  point(layer, i) {
    if (layer === 0) {
      const { x, y, size } = this.inputBox;
      const side = Math.round(Math.sqrt(this.net.layers[0].size));
      if (side * side !== this.net.layers[0].size) return [x + size, y + size / 2];
      const cell = size / side;
      return [x + (i % side + 0.5) * cell, y + (Math.floor(i / side) + 0.5) * cell];
    }
    const p = this.positions[layer] && this.positions[layer][i];
    return p ? [p[0], p[1]] : null;
  }

  /**
   * Draw connections: EDGES [{from: [layer, i], to: [layer, j], value}] (value: a weight or a term w·a).
   * Colour = sign (red +, blue −), thickness and opacity = |value| / largest |value|. KIND names them.
   */
  showConnections(edges, kind = "") {
    clear(this.connections);
    this.connections.dataset.kind = kind;
    const scale = Math.max(1e-12, ...edges.map((e) => Math.abs(e.value)));
    for (const e of edges) {
      const a = this.point(...e.from);
      const b = this.point(...e.to);
      if (!a || !b) continue;
      const t = Math.abs(e.value) / scale;
      this.connections.append(svg("line", { x1: a[0].toFixed(1), y1: a[1].toFixed(1), x2: b[0].toFixed(1), y2: b[1].toFixed(1),
        class: `connection ${e.value >= 0 ? "plus" : "minus"}`, "stroke-width": (0.6 + 4.4 * t).toFixed(2),
        "stroke-opacity": (0.35 + 0.65 * t).toFixed(2), "data-from": e.from.join(":"), "data-to": e.to.join(":") },
      svg("title", {}, `${num(e.value)}`)));
    }
  }

  /** Mark pixel (row, col) of the input picture; null hides the mark. */
  markPixel(pixel) {
    if (!pixel || !this.net) {
      this.pixelMark.setAttribute("visibility", "hidden");
      return;
    }
    const side = Math.round(Math.sqrt(this.net.layers[0].size));
    const cell = this.inputBox.size / side;
    this.pixelMark.setAttribute("x", (this.inputBox.x + pixel[1] * cell - 1).toFixed(1));
    this.pixelMark.setAttribute("y", (this.inputBox.y + pixel[0] * cell - 1).toFixed(1));
    this.pixelMark.setAttribute("width", (cell + 2).toFixed(1));
    this.pixelMark.setAttribute("height", (cell + 2).toFixed(1));
    this.pixelMark.setAttribute("visibility", "visible");
  }

  /**
   * One frame of a pass. Forward: the layers up to STEP lit, the others dimmed. Backward: DELTAS (per layer
   * index, from the output down) colour the layers from the output down to STEP (yellow: should go up,
   * δ < 0; blue: should go down), the rest dimmed. STEP null: everything as after update().
   */
  showStep(direction, step, deltas = null) {
    const last = this.net.layers.length - 1;
    for (const g of this.groups) {
      const layer = Number(g.dataset.layer);
      const on = step === null || (direction === "forward" ? layer <= step : layer >= step);
      g.classList.toggle("dim", !on);
      g.classList.toggle("current", step !== null && layer === step);
      const circles = this.circles[layer] || [];
      if (direction === "backward" && deltas && deltas[layer] && on && step !== null) {
        const d = deltas[layer];
        const scale = Math.max(1e-300, ...d.slice(0, MAX_DRAWN).map((v) => Math.abs(v)));
        circles.forEach((c, j) => c.setAttribute("fill", neuronColour(-d[j] / scale)));
      } else if (this.values[layer]) {
        const values = this.values[layer];
        const scale = layer === last ? 1 : Math.max(1e-12, ...values.slice(0, MAX_DRAWN).map((v) => Math.abs(v)));
        circles.forEach((c, j) => c.setAttribute("fill", neuronColour(values[j] / scale)));
      }
    }
    this.inputImage.classList.toggle("dim", step !== null && direction === "backward" && step > 0);
  }

  key(e) {
    if (!this.net) return;
    const layers = this.circles.map((c, i) => (c && c.length ? i : -1)).filter((i) => i >= 0);
    if (!layers.length) return;
    const arrows = ["ArrowDown", "ArrowUp", "ArrowLeft", "ArrowRight"];
    let { layer, neuron } = this.selected || { layer: layers[0], neuron: 0 };
    const at = layers.indexOf(layer);
    if (!this.selected && arrows.includes(e.key)) {
      // the first arrow lands on the first neuron; the next ones move
    } else if (e.key === "ArrowDown") neuron += 1;
    else if (e.key === "ArrowUp") neuron -= 1;
    else if (e.key === "ArrowRight") layer = layers[Math.min(layers.length - 1, at + 1)];
    else if (e.key === "ArrowLeft") layer = layers[Math.max(0, at - 1)];
    else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      if (this.selected && this.onPick) this.onPick(layer, neuron);
      return;
    } else return;
    e.preventDefault();
    neuron = Math.max(0, Math.min(this.circles[layer].length - 1, neuron));
    this.select(layer, neuron);
    if (this.onHover) {
      const v = this.values[layer] ? this.values[layer][neuron] : undefined;
      this.onHover(`${this.net.layers[layer].name}, neuron ${neuron}${v === undefined ? "" : `: value ${num(v)}`} (Enter to open it)`);
    }
  }

  select(layer, neuron) {
    this.selected = { layer, neuron };
    for (const c of this.svg.querySelectorAll("circle.selected")) c.classList.remove("selected");
    const c = this.circles[layer] && this.circles[layer][neuron];
    if (c) c.classList.add("selected");
  }

  /** Mark switched-off neurons and changed biases (EDIT list from the server). */
  markEdits(edits) {
    this.edits = edits;
    for (const c of this.svg.querySelectorAll("circle.off, circle.biased")) c.classList.remove("off", "biased");
    for (const e of edits) {
      const c = this.circles[e.layer] && this.circles[e.layer][e.neuron];
      if (!c) continue;
      if (e.off) c.classList.add("off");
      else if (e.bias !== null && e.bias !== undefined) c.classList.add("biased");
    }
  }
}
