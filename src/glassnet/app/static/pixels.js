// Pictures whose pixels are linked to numbers: a 28×28 picture with a box on one pixel (what a hovered
// table row names) and markers on several (the weights that change most), that tells which pixel the
// pointer is on; and the names of inputs as the page writes them: a pixel as (row, col), not a flat index.

import { el, pictureCanvas } from "./widgets.js";

/** "(9, 20)" for pixel 272 of a 28-wide picture; "neuron 5" for an input that is not a pixel. */
export function inputName(i, side = null) {
  return side ? `(${Math.floor(i / side)}, ${i % side})` : `neuron ${i}`;
}

/** The side of a square picture of N pixels (28 for 784), or null when N is not an image. */
export function pictureSide(n) {
  const side = Math.round(Math.sqrt(n));
  return n === 784 && side * side === n ? side : null;
}

/**
 * A picture (widgets.pictureCanvas) shown SIZE px wide, with mark([row, col] | null) to box one pixel,
 * markers([[row, col], ...]) to outline several, and onPixel([row, col] | null) called as the pointer moves.
 */
export function pixelFigure(picture, size, { title = "", testid = null, onPixel = null } = {}) {
  const canvas = pictureCanvas(picture, size, { title });
  const box = el("span", { class: "pixel-box", hidden: true, testid: testid ? `${testid}-mark` : null });
  const wrap = el("span", { class: "pixel-figure", testid }, canvas, box);
  const cell = size / picture.width;
  const place = (node, [row, col], pad) => {
    node.style.left = `${col * cell - pad}px`;
    node.style.top = `${row * cell - pad}px`;
    node.style.width = `${cell}px`;
    node.style.height = `${cell}px`;
  };
  const markers = [];
  const figure = {
    node: wrap,
    mark(pixel) {
      box.hidden = !pixel;
      if (pixel) place(box, pixel, 2);
    },
    markers(pixels) {
      for (const m of markers.splice(0)) m.remove();
      for (const p of pixels) {
        const m = el("span", { class: "pixel-box marker" });
        place(m, p, 1);
        markers.push(m);
        wrap.append(m);
      }
    },
  };
  if (onPixel) {
    canvas.addEventListener("pointermove", (e) => {
      const r = canvas.getBoundingClientRect();
      const col = Math.floor(((e.clientX - r.left) / r.width) * picture.width);
      const row = Math.floor(((e.clientY - r.top) / r.height) * picture.height);
      onPixel(row >= 0 && col >= 0 && row < picture.height && col < picture.width ? [row, col] : null);
    });
    canvas.addEventListener("pointerleave", () => onPixel(null));
  }
  return figure;
}

/**
 * Link the rows of a table to pixels: hovering (or focusing) a row marks its pixel with ON(pixel), and
 * highlight(pixel) marks the row of a pixel the other way round. PIXELS: the pixel of row k (an array), or a
 * function (tr, k) -> pixel or null. A numberTable re-renders its rows ("show all"); the new rows are linked
 * too (its "rows-rendered" event).
 */
export function linkRows(table, pixels, on) {
  const pixelOf = typeof pixels === "function" ? pixels : (tr, k) => pixels[k];
  let rows = [];
  const bind = () => {
    rows = Array.from(table.querySelectorAll("tbody tr"));
    rows.forEach((tr, k) => {
      const pixel = pixelOf(tr, k);
      if (!pixel || tr.dataset.pixel) return;             // no pixel, or linked already
      tr.classList.add("term-row");
      tr.dataset.pixel = pixel.join(",");
      tr.tabIndex = 0;
      const enter = () => {
        rows.forEach((other) => other.classList.toggle("hover", other === tr));
        on(pixel);
      };
      tr.addEventListener("mouseenter", enter);
      tr.addEventListener("focus", enter);
      tr.addEventListener("mouseleave", () => {
        tr.classList.remove("hover");
        on(null);
      });
    });
  };
  bind();
  table.addEventListener("rows-rendered", bind);
  return {
    highlight(pixel) {
      const key = pixel ? pixel.join(",") : null;
      let found = null;
      for (const tr of rows) {
        const hit = key !== null && tr.dataset.pixel === key;
        tr.classList.toggle("hover", hit);
        if (hit) found = tr;
      }
      return found;
    },
  };
}
