// Train tab, "Watching it learn": the first layer's weights as a live grid of pictures, a gallery of
// test images with the network's current answers, and the diagnostics as sentences with their fix.
// All three come from GET /api/train/watch (one copy of the latest weights); refreshed after every
// epoch, every couple of seconds while a run goes, and when the run ends.

import { api, singleFlight } from "./api.js";
import { $, el, clear, pictureCanvas, short } from "./widgets.js";
import { classes, emit, state } from "./state.js";

const EVERY_MS = 2000;          // while training: refresh at most this often between epochs
let images = new Map();         // test index -> picture (sent once)
let refreshes = 0;
let last = 0;
let timer = null;

/** Build the card (after the charts) and start following the job. */
export function initWatch() {
  const card = el("section", { class: "card watch", id: "watch-card", "aria-labelledby": "watch-title" },
    el("h2", { id: "watch-title" }, "Watching it learn"),
    el("div", { id: "watch-diagnostics", class: "diagnostics", testid: "diagnostics", "aria-live": "polite" }),
    el("div", { class: "watch-columns" },
      el("div", {},
        el("h3", {}, "What the first layer looks for"),
        el("p", { id: "watch-filters-caption", class: "hint" }),
        el("div", { id: "watch-filters", class: "filter-grid", testid: "filter-grid" })),
      el("div", {},
        el("h3", {}, "Its answers on test images"),
        el("p", { id: "watch-gallery-caption", class: "hint" }),
        el("div", { id: "watch-gallery", class: "gallery watch-gallery", testid: "watch-gallery" }))));
  $("lrf-card").before(card);
}

/** Refresh now (after an epoch, at the end of a run, on a new network). */
export function refreshWatch() {
  last = Date.now();
  load().catch(() => {});          // a refresh that fails is retried by the next one; the page stays usable
}

/** While a run goes: refresh at most every EVERY_MS (called on each live point). */
export function tickWatch() {
  if (Date.now() - last < EVERY_MS) {
    if (!timer) timer = setTimeout(() => { timer = null; refreshWatch(); }, EVERY_MS);
    return;
  }
  refreshWatch();
}

/** A new network or dataset: the gallery's pictures are sent again. */
export function resetWatch() {
  images = new Map();
  refreshWatch();
}

/** The last record has no test accuracy (a loaded model's history): ask for the network's score now. */
function needsTest() {
  const h = state.history;
  return Boolean(h.length) && (h[h.length - 1].test_accuracy === null || h[h.length - 1].test_accuracy === undefined);
}

const load = singleFlight(async () => {
  const withImages = !images.size;
  const r = await api("GET", `api/train/watch?images=${withImages}&neurons=32&examples=24&test=${needsTest()}`);
  refreshes += 1;
  renderDiagnostics(r);
  renderFilters(r.filters);
  renderGallery(r.gallery);
  // an answer asked for before a new network came (its pictures were then forgotten): ask again, with them
  if (!withImages && r.gallery.items.some((item) => !images.has(item.test_index))) {
    images = new Map();
    refreshWatch();
  }
  $("watch-card").dataset.refreshes = String(refreshes);
  $("watch-card").dataset.epoch = String(r.epoch);
  emit("watch", r);
});

function renderDiagnostics(r) {
  const box = clear($("watch-diagnostics"));
  if (!r.diagnostics.length) {
    box.className = "diagnostics quiet";
    box.append(r.epoch || r.state === "failed"
      ? `No problem found after epoch ${r.epoch}: after every epoch the loss is checked for exploding, for not falling and for overfitting, and the hidden neurons for dying.`
      : "After every epoch the loss is checked for exploding, for not falling and for overfitting, and the hidden neurons for dying; what is found appears here with what to change.");
    return;
  }
  box.className = "diagnostics found";
  for (const f of r.diagnostics) {
    box.append(el("div", { class: "finding", "data-name": f.name, testid: `finding-${f.name}` },
      el("b", {}, `⚠ ${f.title}. `), f.sentence, " ", el("span", { class: "fix" }, f.fix)));
  }
}

function renderFilters(filters) {
  const grid = clear($("watch-filters"));
  const caption = $("watch-filters-caption");
  if (!filters) {
    caption.textContent = "The inputs are not an image, so the weights have no picture.";
    return;
  }
  const some = filters.shown < filters.neurons ? `the first ${filters.shown} of its ${filters.neurons} neurons` : `its ${filters.neurons} neuron${filters.neurons === 1 ? "" : "s"}`;
  const layer = filters.name === "output" ? "the output layer" : filters.name.replace(/^hidden (\d+)$/, "hidden layer $1");
  caption.textContent = `Each square is one neuron of ${layer} (${some}): its incoming weights laid out as the image. Red: ink there raises the neuron's sum; blue: lowers it.`;
  for (const f of filters.items) {
    const canvas = pictureCanvas(f.picture, 44, { title: `neuron ${f.neuron}: largest |w| ${short(f.largest)}` });
    canvas.dataset.neuron = String(f.neuron);
    grid.append(canvas);
  }
}

function renderGallery(gallery) {
  const box = clear($("watch-gallery"));
  const names = classes();
  for (const item of gallery.items) {
    if (item.image) images.set(item.test_index, item.image);
    const picture = images.get(item.test_index);
    const said = names[item.prediction] ?? String(item.prediction);
    const truth = names[item.label] ?? String(item.label);
    const caption = item.correct ? `${said} ✓` : `${said} ✗ (is ${truth})`;
    const figure = el("figure", { class: `thumb ${item.correct ? "right" : "wrong"}`, "data-prediction": item.prediction,
      title: `test image ${item.test_index}: says ${said} (${(100 * item.confidence).toFixed(0)}% sure), it is ${truth}` },
    picture ? pictureCanvas(picture, 44) : null, el("figcaption", {}, caption));
    box.append(figure);
  }
  $("watch-gallery-caption").textContent = `${gallery.correct} of ${gallery.n} right, with the weights of now (the same ${gallery.n} test images every time; never trained on).`;
}
