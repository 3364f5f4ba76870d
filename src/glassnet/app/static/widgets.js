// Small building blocks shared by the tabs: DOM helpers, number formats, pictures,
// the drawing pad, probability bars, long number tables, and a line chart in plain SVG.

const SVG_NS = "http://www.w3.org/2000/svg";

// -- DOM helpers ---------------------------------------------------------------------------------------
function fill(node, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.setAttribute("class", value);
    else if (key === "text") node.textContent = value;
    else if (key === "testid") node.dataset.testid = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** `el("p", {class: "hint"}, "text", child)`: an HTML element. */
export function el(tag, attrs = {}, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** `svg("circle", {cx: 1, cy: 2, r: 3})`: an SVG element. */
export function svg(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function $(id) {
  return document.getElementById(id);
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// -- numbers -------------------------------------------------------------------------------------------
/** A number for the maths tables: 4 significant digits, a real minus sign. */
export function num(value, digits = 4) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return Number.isNaN(value) ? "NaN" : value > 0 ? "∞" : "−∞";
  if (value === 0) return "0";
  const abs = Math.abs(value);
  let text;
  if (abs >= 1e5 || abs < 1e-4) text = value.toExponential(digits - 1);
  else text = Number(value.toPrecision(digits)).toString();
  return text.replace(/-/g, "−");           // every minus: the sign and the exponent's (6.1e−7, not 6.1e-7)
}

/** A fraction 0..1 as a percentage: 0.9734 -> "97.3%". */
export function pct(value, digits = 1) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return `${(100 * value).toFixed(digits)}%`;
}

/** A learning rate or other small positive number, short: 0.001, 3e-5. */
export function short(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e4)) return value.toExponential(1);
  return Number(value.toPrecision(3)).toString();
}

/**
 * What a form field the browser refused expects, as a sentence for the page (the browser's own bubble
 * is easy to miss, and gone on some phones): "Epochs: expected a whole number of 1 or more; received "0"."
 */
export function fieldMessage(input) {
  const label = input.closest("label");
  const name = (label ? [...label.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join(" ") : "")
    .trim() || input.getAttribute("aria-label") || input.id;
  const v = input.validity;
  const text = input.value.trim();
  const received = text === "" ? "nothing" : `"${text}"`;
  if (input.type === "number") {
    const whole = input.step === "1" ? "a whole number" : "a number";
    const min = input.min !== "" ? Number(input.min) : null;
    const max = input.max !== "" ? Number(input.max) : null;
    const range = min !== null && max !== null ? ` from ${min} to ${max}` : min !== null ? ` of ${min} or more` : max !== null ? ` of ${max} or less` : "";
    if (v.badInput || v.rangeUnderflow || v.rangeOverflow || v.stepMismatch || v.valueMissing) return `${name}: expected ${whole}${range}; received ${received}.`;
  }
  if (v.patternMismatch || v.tooLong) return `${name}: ${input.title || "expected the characters the hint below it names"}; received ${received}.`;
  return `${name}: ${input.validationMessage}`;
}

// -- timing helpers ----------------------------------------------------------------------------------
/** Call `fn` at most every `ms` milliseconds (the last call always runs). */
export function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  const run = (...args) => {
    const wait = last + ms - Date.now();
    clearTimeout(timer);
    if (wait <= 0) {
      last = Date.now();
      fn(...args);
    } else {
      timer = setTimeout(() => {
        last = Date.now();
        fn(...args);
      }, wait);
    }
  };
  run.cancel = () => clearTimeout(timer);
  return run;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// -- pictures --------------------------------------------------------------------------------------------
/**
 * A grayscale picture `{width, height, pixels}` (255 = white ink) or a signed map
 * `{width, height, values, scale}` (red positive, blue negative) as a small canvas, shown
 * `size` CSS pixels wide and scaled up with crisp pixels (class "pixelated" in app.css).
 */
export function pictureCanvas(picture, size = 84, { title = "" } = {}) {
  const canvas = document.createElement("canvas");
  canvas.width = picture.width;
  canvas.height = picture.height;
  canvas.className = "pixelated picture";
  if (title) canvas.title = title;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(picture.width, picture.height);
  const n = picture.width * picture.height;
  const data = image.data;
  if (picture.pixels) {
    for (let i = 0; i < n; i++) {
      const v = picture.pixels[i] | 0;
      data[4 * i] = data[4 * i + 1] = data[4 * i + 2] = v;
      data[4 * i + 3] = 255;
    }
  } else {
    const values = picture.values || [];
    let scale = picture.scale;
    if (!(scale > 0)) scale = Math.max(1e-12, ...values.map(Math.abs));
    for (let i = 0; i < n; i++) {
      const [r, g, b] = signedColour((values[i] || 0) / scale);
      data[4 * i] = r;
      data[4 * i + 1] = g;
      data[4 * i + 2] = b;
      data[4 * i + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
  const aspect = picture.height / picture.width;
  // A 1 x n strip would be a hair: give it some height.
  canvas.style.width = `${size}px`;
  canvas.style.height = `${Math.max(size * aspect, picture.height === 1 ? 18 : 0)}px`;
  return canvas;
}

/** t in [-1, 1] -> white with red (t > 0) or blue (t < 0) of intensity |t|. */
export function signedColour(t) {
  const s = Math.max(-1, Math.min(1, t));
  const fade = Math.round(255 * (1 - Math.abs(s)));
  return s >= 0 ? [255, fade, fade] : [fade, fade, 255];
}

/** A data: URL of a grayscale picture, for an SVG <image>. */
export function pictureURL(picture) {
  return pictureCanvas(picture, picture.width).toDataURL("image/png");
}

/** A picture with a caption underneath. */
export function figure(picture, caption, size = 84, extraClass = "") {
  return el("figure", { class: `thumb ${extraClass}`.trim() }, pictureCanvas(picture, size), el("figcaption", {}, caption));
}

// -- the drawing pad ---------------------------------------------------------------------------------------
/**
 * A black canvas to draw on with a white round brush (mouse, pen or finger: pointer events).
 * `onDraw(final)` is called while drawing (throttled by the caller) and with `final = true`
 * when the pointer is lifted.
 */
export class DrawPad {
  constructor(canvas, { brush = 18, onDraw = () => {} } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.brush = brush;
    this.onDraw = onDraw;
    this.drawing = false;
    this.empty = true;
    this.last = null;
    this.clear();
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.up(e));
    canvas.addEventListener("pointercancel", (e) => this.up(e));
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  clear() {
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.empty = true;
  }

  point(e) {
    const rect = this.canvas.getBoundingClientRect();
    return [
      ((e.clientX - rect.left) * this.canvas.width) / rect.width,
      ((e.clientY - rect.top) * this.canvas.height) / rect.height,
    ];
  }

  stroke(from, to) {
    const ctx = this.ctx;
    ctx.strokeStyle = "#fff";
    ctx.fillStyle = "#fff";
    ctx.lineWidth = this.brush;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
    this.empty = false;
  }

  dot([x, y]) {
    // A zero-length line draws nothing in a canvas: a tap is a filled circle.
    this.ctx.fillStyle = "#fff";
    this.ctx.beginPath();
    this.ctx.arc(x, y, this.brush / 2, 0, 2 * Math.PI);
    this.ctx.fill();
    this.empty = false;
  }

  down(e) {
    if (e.button !== undefined && e.button > 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    this.drawing = true;
    this.last = this.point(e);
    this.dot(this.last);
    this.onDraw(false);
  }

  move(e) {
    if (!this.drawing) return;
    e.preventDefault();
    const p = this.point(e);
    this.stroke(this.last, p);
    this.last = p;
    this.onDraw(false);
  }

  up(e) {
    if (!this.drawing) return;
    this.drawing = false;
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
    this.onDraw(true);
  }

  /** The drawing as the server wants it: `size x size` grayscale (average of blocks), 255 = ink. */
  image(size = 140) {
    const { width, height } = this.canvas;
    const rgba = this.ctx.getImageData(0, 0, width, height).data;
    const fx = width / size;
    const fy = height / size;
    const pixels = new Array(size * size);
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        let sum = 0;
        let count = 0;
        for (let y = Math.floor(r * fy); y < Math.floor((r + 1) * fy); y++) {
          for (let x = Math.floor(c * fx); x < Math.floor((c + 1) * fx); x++) {
            const i = 4 * (y * width + x);
            sum += (rgba[i] + rgba[i + 1] + rgba[i + 2]) / 3;
            count++;
          }
        }
        pixels[r * size + c] = Math.round(sum / Math.max(1, count));
      }
    }
    return { width: size, height: size, pixels };
  }
}

// -- probability bars -----------------------------------------------------------------------------------
export function probabilityBars(container, probabilities, names, winner) {
  clear(container);
  probabilities.forEach((p, k) => {
    const bar = el("span", { class: "bar-fill" });
    bar.style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
    container.append(
      el("div", { class: `bar-row${k === winner ? " winner" : ""}`, testid: `prob-${k}` },
        el("span", { class: "bar-name" }, names[k] ?? String(k)),
        el("span", { class: "bar-track" }, bar),
        el("span", { class: "bar-value" }, pct(p))),
    );
  });
}

// -- long number tables -------------------------------------------------------------------------------------
/**
 * A table of numbers with the first `limit` rows shown and a "show all" toggle.
 * `columns`: header texts; `rows`: arrays of cells (numbers are formatted with num()).
 * `highlight(row, i)` may return a class name for a row.
 */
export function numberTable(columns, rows, { limit = 12, caption = "", highlight = null, testid = null } = {}) {
  const body = el("tbody");
  const table = el("table", { class: "numbers", testid }, caption ? el("caption", {}, caption) : null,
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", {}, c)))), body);
  let showAll = false;
  const toggle = el("button", { type: "button", class: "link show-all" });
  const render = () => {
    clear(body);
    const shown = showAll ? rows : rows.slice(0, limit);
    shown.forEach((row, i) => {
      const cls = highlight ? highlight(row, i) : null;
      body.append(el("tr", { class: cls }, row.map((cell) => el("td", {}, typeof cell === "number" ? num(cell) : cell))));
    });
    toggle.textContent = showAll ? `show the first ${limit}` : `show all ${rows.length} rows`;
    table.dispatchEvent(new CustomEvent("rows-rendered", { bubbles: true }));   // linkRows links the new rows
  };
  toggle.addEventListener("click", () => {
    showAll = !showAll;
    render();
  });
  render();
  const wrap = el("div", { class: "table-wrap" }, table);
  if (rows.length > limit) wrap.append(toggle);
  return wrap;
}

/**
 * A wide box (a table in a "table-wrap") that says when it scrolls sideways: a hint line above it,
 * shown only while its content is wider than the box, and class "scrolls" on the box. Returns the
 * two in one <div> to put in the page.
 */
export function scrollHint(wrap, text = "Wider than the screen: scroll it sideways to see every column →") {
  const hint = el("p", { class: "hint scroll-hint", hidden: true, testid: "scroll-hint" }, text);
  const check = () => {
    const scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
    hint.hidden = !scrolls;
    wrap.classList.toggle("scrolls", scrolls);
  };
  new ResizeObserver(check).observe(wrap);
  return el("div", { class: "scroll-box" }, hint, wrap);
}

// -- line chart ------------------------------------------------------------------------------------------------
function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * power;
}

function linearTicks(min, max, count) {
  const step = niceStep(max - min, count);
  const ticks = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { ticks, step };
}

function tickText(v, step) {
  // Large numbers in powers of ten (a diverging loss: "5e16", never "50000000000000000" cut short)
  if (Math.abs(v) >= 1e5) return v.toExponential(Math.abs(v) >= 10 * step ? 1 : 0).replace("e+", "e").replace(".0e", "e").replace("-", "−");
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals).replace("-", "−");
}

/** 10^e as a tick label: 0.01, 1, 1000, 1e5. */
function powerText(e) {
  return (e >= 5 || e <= -4 ? `1e${e}` : String(Number((10 ** e).toPrecision(1)))).replace("-", "−");
}

/**
 * Draw a chart into `target` (an <svg>). Options:
 *  series: [{id, label, colour, points: [[x, y]...], line = true, dots = false, width = 2}]
 *  xLabel, yLabel, xLog, yLog (a log y axis: values <= 0 are left out), xDomain [min, max], yDomain [min, max],
 *  marker (an x value: vertical line),
 *  markerLabel, notes: [{x, y, text, colour}] (labelled dots), width, height.
 */
export function lineChart(target, options) {
  const W = options.width || 560;
  const H = options.height || 300;
  const m = { left: 58, right: 16, top: 14, bottom: 44 };
  clear(target);
  target.setAttribute("viewBox", `0 0 ${W} ${H}`);
  target.setAttribute("class", `chart ${options.className || ""}`.trim());
  const series = options.series || [];
  const tx = options.xLog ? (v) => Math.log10(v) : (v) => v;
  const ty = options.yLog ? (v) => Math.log10(v) : (v) => v;
  const finite = (p) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!options.xLog || p[0] > 0) && (!options.yLog || p[1] > 0);
  const all = series.flatMap((s) => s.points.filter(finite));
  let [x0, x1] = options.xDomain || [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = options.yDomain || [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (!all.length && !options.xDomain) [x0, x1] = options.xLog ? [1e-5, 10] : [0, 1];
  if (!all.length && !options.yDomain) [y0, y1] = [0, 1];
  if (options.yFloor !== undefined && !options.yLog) y0 = Math.min(y0, options.yFloor);
  if (x0 === x1) [x0, x1] = options.xLog ? [x0 / 10, x1 * 10] : [x0 - 0.5, x1 + 0.5];
  if (options.yLog) {
    if (!(y0 > 0)) [y0, y1] = [0.1, 10];
    [y0, y1] = [10 ** Math.floor(Math.log10(y0) + 1e-9), 10 ** Math.ceil(Math.log10(y1) - 1e-9)];
    if (y0 === y1) [y0, y1] = [y0 / 10, y1 * 10];
  }
  if (y0 === y1) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  if (!options.yDomain && !options.yLog) {
    const pad = (y1 - y0) * 0.06;
    y1 += pad;
    if (options.yFloor === undefined || y0 - pad >= options.yFloor) y0 -= pad;
  }
  const X0 = tx(x0);
  const X1 = tx(x1);
  const sx = (v) => m.left + ((tx(v) - X0) / (X1 - X0)) * (W - m.left - m.right);
  const Y0 = ty(y0);
  const Y1 = ty(y1);
  const sy = (v) => H - m.bottom - ((ty(v) - Y0) / (Y1 - Y0)) * (H - m.top - m.bottom);
  const grid = svg("g", { class: "grid" });
  const axes = svg("g", { class: "axes" });
  // y ticks: on a log axis, powers of ten (every k-th when there are many)
  let yticks;
  if (options.yLog) {
    const every = Math.max(1, Math.ceil((Y1 - Y0) / 6));
    yticks = [];
    for (let e = Math.round(Y0); e <= Math.round(Y1); e += every) yticks.push({ v: 10 ** e, text: powerText(e) });
  } else {
    const yt = linearTicks(y0, y1, 5);
    yticks = yt.ticks.map((v) => ({ v, text: tickText(v, yt.step) }));
  }
  for (const { v, text } of yticks) {
    grid.append(svg("line", { x1: m.left, x2: W - m.right, y1: sy(v), y2: sy(v) }));
    axes.append(svg("text", { x: m.left - 6, y: sy(v) + 4, "text-anchor": "end", class: "y-tick" }, text));
  }
  // x ticks: powers of ten on a log axis
  let xticks;
  if (options.xLog) {
    xticks = [];
    for (let e = Math.ceil(X0 - 1e-9); e <= X1 + 1e-9; e++) xticks.push({ v: 10 ** e, text: e === 0 ? "1" : e === 1 ? "10" : `1e${e}`.replace("-", "−") });
  } else if (options.integerX) {
    // epochs: whole numbers only
    const step = Math.max(1, Math.round(niceStep(x1 - x0, options.xTicks || 6)));
    xticks = [];
    for (let v = Math.ceil(x0 / step) * step; v <= x1 + 1e-9; v += step) xticks.push({ v, text: String(v) });
  } else {
    const t = linearTicks(x0, x1, options.xTicks || 6);
    xticks = t.ticks.map((v) => ({ v, text: tickText(v, t.step) }));
  }
  for (const { v, text } of xticks) {
    grid.append(svg("line", { x1: sx(v), x2: sx(v), y1: m.top, y2: H - m.bottom }));
    axes.append(svg("text", { x: sx(v), y: H - m.bottom + 16, "text-anchor": "middle" }, text));
  }
  axes.append(svg("line", { class: "axis", x1: m.left, x2: W - m.right, y1: H - m.bottom, y2: H - m.bottom }));
  axes.append(svg("line", { class: "axis", x1: m.left, x2: m.left, y1: m.top, y2: H - m.bottom }));
  if (options.xLabel) axes.append(svg("text", { class: "axis-label", x: (m.left + W - m.right) / 2, y: H - 8, "text-anchor": "middle" }, options.xLabel));
  if (options.yLabel) {
    axes.append(svg("text", { class: "axis-label", x: 14, y: (m.top + H - m.bottom) / 2, "text-anchor": "middle",
      transform: `rotate(-90 14 ${(m.top + H - m.bottom) / 2})` }, options.yLabel));
  }
  target.append(grid, axes);
  // the plotting area clips lines that leave it (a diverging loss, for example)
  const clipId = `clip-${target.id || Math.random().toString(36).slice(2)}`;
  target.append(svg("clipPath", { id: clipId }, svg("rect", { x: m.left, y: m.top - 4, width: W - m.left - m.right, height: H - m.top - m.bottom + 8 })));
  const plot = svg("g", { "clip-path": `url(#${clipId})` });
  target.append(plot);
  for (const s of series) {
    const pts = s.points.filter(finite);
    if (s.line !== false) {
      const d = pts.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
      plot.append(svg("path", { d: d || "M0,0", class: "series", stroke: s.colour, "stroke-width": s.width || 2, fill: "none",
        "data-series": s.id, "data-count": pts.length, "stroke-dasharray": s.dash || null, opacity: s.opacity ?? null }));
    }
    if (s.dots) {
      const g = svg("g", { "data-dots": s.id, fill: s.colour });
      for (const p of pts) g.append(svg("circle", { cx: sx(p[0]), cy: sy(p[1]), r: s.radius || 3.5 }));
      plot.append(g);
    }
  }
  if (options.marker !== null && options.marker !== undefined && Number.isFinite(options.marker)) {
    const x = sx(options.marker);
    target.append(svg("line", { class: "marker", x1: x, x2: x, y1: m.top, y2: H - m.bottom, "data-marker": options.marker }));
    if (options.markerLabel) {
      const right = x > W - m.right - 70;   // near the right edge: write the label on the left of the line
      target.append(svg("text", { class: "marker-label", x: right ? x - 4 : x + 4, y: H - m.bottom - 6, "text-anchor": right ? "end" : "start" }, options.markerLabel));
    }
  }
  if (options.corner) target.append(svg("text", { class: "corner-note", x: W - m.right - 4, y: m.top + 24, "text-anchor": "end" }, options.corner));
  // legend
  const shown = series.filter((s) => s.label);
  let lx = m.left + 8;
  const legend = svg("g", { class: "legend" });
  for (const s of shown) {
    legend.append(svg("rect", { x: lx, y: m.top + 2, width: 12, height: 4, fill: s.colour }));
    const text = svg("text", { x: lx + 16, y: m.top + 8 }, s.label);
    legend.append(text);
    lx += 24 + 6.4 * s.label.length;
  }
  // labelled dots, in their own colour; a label goes below its dot when above it would cover the legend
  // (or leave the chart), and to the left when it would run past the right edge
  for (const note of options.notes || []) {
    if (!Number.isFinite(note.x) || !Number.isFinite(note.y)) continue;
    const cx = sx(note.x);
    const cy = sy(note.y);
    const colour = note.colour || "#d33";
    const width = 7 * note.text.length;                       // 12px semibold: about 7px a character
    const right = cx + 8 + width > W - m.right;
    const left = right ? cx - 8 - width : cx + 8;
    const onLegend = shown.length > 0 && cy - 8 - 12 < m.top + 10 && left < lx && left + width > m.left;
    const below = onLegend || cy - 8 - 12 < 0;
    target.append(svg("circle", { cx, cy, r: 6, class: "note-dot", fill: colour }));
    target.append(svg("text", { class: "note-label", x: right ? cx - 8 : cx + 8, y: below ? cy + 20 : cy - 8,
      "text-anchor": right ? "end" : "start", fill: colour }, note.text));
  }
  target.append(legend);
  return { sx, sy };
}
