// Train tab: build a network, train it, watch the curves grow live (server-sent events),
// change the learning rate while it trains, and run the learning-rate finder.

import { api, ApiError, guard, notify } from "./api.js";
import { $, el, clear, fieldMessage, lineChart, num, pct, short } from "./widgets.js";
import { state, on, emit, classes, refreshSession, networkReplaced, setViewEpoch } from "./state.js";
import { initWatch, refreshWatch, resetWatch, tickWatch } from "./watch.js";

const ACTIVE = new Set(["running", "paused"]);
let stream = null;
let reconnects = 0;
let lastHeard = 0;         // when the stream last said anything (Date.now())
const QUIET_MS = 5000;     // a stream quiet this long while the job is active: ask where it is
let redrawQueued = false;
let lrSuggestion = null;
let pendingLr = null;      // a rate set while training, until the job reports it in use
let testNow = null;        // {epoch, accuracy, loss}: the network's test score, from the watch answer

export function init() {
  initWatch();
  // The forms say what is wrong in the page (a sentence), not only in the browser's bubble.
  $("network-form").noValidate = true;
  $("train-form").noValidate = true;
  // Every other form of the page: when the browser refuses a field, the page says so too.
  document.addEventListener("invalid", (e) => notify(fieldMessage(e.target), "error"), true);
  $("network-form").addEventListener("submit", guard(newNetwork));
  $("train-form").addEventListener("submit", guard(start));
  $("train-pause").addEventListener("click", guard(() => control("pause")));
  $("train-resume").addEventListener("click", guard(() => control("resume")));
  $("train-stop").addEventListener("click", guard(() => control("stop")));
  $("train-step").addEventListener("click", guard(step));
  $("live-lr-set").addEventListener("click", guard(setLiveLr));
  $("lr-find").addEventListener("click", guard(findLr));
  $("lrf-use").addEventListener("click", () => {
    if (lrSuggestion === null) return;
    $("train-lr").value = short(lrSuggestion);
    $("live-lr").value = short(lrSuggestion);
    notify(`Learning rate set to ${short(lrSuggestion)} for the next training.`);
  });
  $("net-dataset").addEventListener("change", describeDataset);
  setInterval(() => checkQuietStream().catch(() => {}), 1000);   // the stream reports its own errors
  on("session", (s) => {
    fillChoices(s.choices);
    fillDatasets();
    applyJob(s.training || state.job, { keepHistory: true });
    refreshWatch();
  });
  on("network", (net) => {
    fillNetworkForm(net);
    resetWatch();
  });
  on("view", scheduleRedraw);
  on("watch", (r) => {
    testNow = r.test ? { epoch: r.epoch, ...r.test } : null;
    scheduleRedraw();
  });
  updateButtons();
  scheduleRedraw();
}

export function shown() {
  scheduleRedraw();
}

// -- the choices: every activation, optimizer and schedule the library has (the server lists them) ------------
function fillChoices(choices) {
  if (!choices) return;
  fillSelect($("net-activation"), choices.activations);
  fillSelect($("train-optimizer"), choices.optimizers);
  fillSelect($("train-schedule"), choices.schedules);
}

function fillSelect(select, options) {
  const names = options.map((o) => o.name);
  if ([...select.options].map((o) => o.value).join("\n") === names.join("\n")) return;   // unchanged: keep the pick
  const chosen = select.value;
  clear(select);
  for (const o of options) select.append(el("option", { value: o.name }, o.label));
  if (names.includes(chosen)) select.value = chosen;
}

// -- the network form -----------------------------------------------------------------------------------
function fillDatasets() {
  const select = $("net-dataset");
  const chosen = select.value || (state.dataset && state.dataset.name);
  clear(select);
  for (const ds of state.datasets) {
    // The server describes a dataset fully once it has been loaded; until then only its name is known.
    const size = Number.isFinite(ds.n_train) ? ` (${ds.n_train.toLocaleString("en")} training images)` : "";
    const text = ds.available ? `${ds.name}${size}` : `${ds.name}: not available`;
    select.append(el("option", { value: ds.name, disabled: !ds.available, title: ds.available ? ds.description : ds.reason || ds.description }, text));
  }
  if (chosen) select.value = chosen;
  describeDataset();
}

function describeDataset() {
  const ds = state.datasets.find((d) => d.name === $("net-dataset").value);
  const unavailable = state.datasets.filter((d) => !d.available).map((d) => `${d.name}: ${d.reason || d.description}`);
  $("dataset-description").textContent = [ds ? ds.description : "", ...unavailable].filter(Boolean).join(" · ");
}

function fillNetworkForm(net) {
  if (!net) return;
  $("net-layers").value = net.sizes.slice(1, -1).join(",");
  const activation = net.activation.split("(")[0];   // "leaky_relu(0.01)": the name, without its settings
  if ([...$("net-activation").options].some((o) => o.value === activation)) $("net-activation").value = activation;
  if (state.dataset) $("net-dataset").value = state.dataset.name;
}

/** "128, 64" -> [128, 64]; a readable error for anything else. */
export function parseLayers(text) {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  const layers = parts.map(Number);
  if (layers.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new ApiError(0, `Hidden layers: expected whole numbers separated by commas, like 128,64; received "${text}".`);
  }
  return layers;
}

/** A number field read as the server wants it, or a sentence saying what it expects (no browser bubble). */
function checked(id, name, { min = 0, above = false, whole = false, max = Infinity, hint = "" } = {}) {
  const text = $(id).value.trim();
  const value = Number(text);
  const ok = text !== "" && Number.isFinite(value) && (above ? value > min : value >= min) && value <= max && (!whole || Number.isInteger(value));
  if (!ok) {
    const kind = whole ? "a whole number" : "a number";
    const range = max < Infinity ? ` from ${min} to ${max}` : above ? ` above ${min}` : ` of ${min} or more`;
    $(id).setAttribute("aria-invalid", "true");
    $(id).focus();
    // a refusal of the form (shown like the server's), not a bug of the page
    throw new ApiError(0, `${name}: expected ${kind}${range}${hint}; received ${text === "" ? "nothing" : `"${text}"`}.`);
  }
  $(id).removeAttribute("aria-invalid");
  return value;
}

async function newNetwork(event) {
  event.preventDefault();
  const body = {
    dataset: $("net-dataset").value || (state.dataset && state.dataset.name),
    layers: parseLayers($("net-layers").value),
    activation: $("net-activation").value,
    seed: checked("net-seed", "Seed", { whole: true }),
  };
  const button = $("new-network");
  button.disabled = true;
  try {
    await api("POST", "api/network", body);
    networkReplaced();
    state.history = [];
    state.points = [];
    await refreshSession();
    emit("weights");
    notify(`New network ${state.network.sizes.join("–")}: random weights, ready to train.`);
  } finally {
    updateButtons();
  }
}

// -- training controls ----------------------------------------------------------------------------------------
function trainConfig(stepOnly) {
  return {
    epochs: checked("train-epochs", "Epochs", { min: 1, whole: true }),
    batch_size: checked("train-batch", "Batch size", { min: 1, whole: true }),
    optimizer: $("train-optimizer").value,
    lr: checked("train-lr", "Learning rate", { min: 0, above: true, hint: " (the size of each step; 0.05 is a good start)" }),
    momentum: checked("train-momentum", "Momentum", { min: 0, max: 0.999 }),
    schedule: $("train-schedule").value,
    augment: $("train-augment").checked,
    seed: checked("train-seed", "Seed", { whole: true }),
    step: stepOnly,
  };
}

/** Training continues from the latest weights: leave a past epoch first (the server insists). */
export async function backToLatest(what) {
  if (state.viewEpoch === null || state.viewEpoch === undefined) return;
  await setViewEpoch(null);
  notify(`Back to the latest weights to ${what}.`);
}

async function start(event) {
  event.preventDefault();
  await backToLatest("train");
  const job = await api("POST", "api/train/start", trainConfig(false));
  $("live-lr").value = $("train-lr").value;
  applyJob(job);
  openStream();
}

async function step() {
  if (!(state.job && state.job.state === "paused")) await backToLatest("train");
  const job = state.job && state.job.state === "paused"
    ? await api("POST", "api/train/step")
    : await api("POST", "api/train/start", trainConfig(true));
  applyJob(job);
  openStream();
}

async function control(action) {
  applyJob(await api("POST", `api/train/${action}`));
}

async function setLiveLr() {
  const lr = checked("live-lr", "Learning rate now", { min: 0, above: true });
  pendingLr = lr;
  applyJob(await api("POST", "api/train/lr", { lr }));
  notify(`Learning rate is now ${short(lr)} (from the next mini-batch on).`);
}

// -- the live stream ------------------------------------------------------------------------------------------
/** Listen to /api/train/events until the job ends. */
export function openStream() {
  if (stream) return;
  const source = new EventSource("api/train/events");
  stream = source;
  lastHeard = Date.now();
  const data = (event) => { lastHeard = Date.now(); return JSON.parse(event.data); };
  source.addEventListener("job", (e) => applyJob(data(e)));
  source.addEventListener("point", (e) => {
    const point = data(e);
    state.points.push(point);
    reconnects = 0;
    tickWatch();
    // Each point carries where the run is (epoch, batch, rate): the status line follows it live.
    if (state.job && point.state === state.job.state) {
      for (const key of ["epoch", "batch", "steps_per_epoch", "lr"]) if (point[key] !== undefined) state.job[key] = point[key];
      renderStatus();
    }
    scheduleRedraw();
  });
  source.addEventListener("epoch", (e) => {
    const record = data(e);
    state.history = state.history.filter((r) => r.epoch !== record.epoch).concat([record]);
    if (state.job && state.job.kind !== "replay") {
      state.job.epoch = record.epoch;
      renderStatus();
    }
    scheduleRedraw();
    emit("weights");
    refreshWatch();
  });
  source.addEventListener("end", (e) => {
    // The server closes the stream right after "end". Close our side when that arrives (closing
    // first would abort the request), or after a moment; a new training opens a new stream.
    stream = null;
    source.onerror = () => source.close();
    setTimeout(() => source.close(), 2000);
    applyJob(data(e));
    guard(finished)();
  });
  source.onerror = () => {
    // The connection dropped without an "end": ask where the job is and listen again if it still runs.
    if (stream !== source) return;
    closeStream();
    guard(recover)();
  };
}

/** A stream that has said nothing for a while (a proxy holding it back, a connection gone quiet):
 * ask the server where the job is, so the status line and the buttons never stay behind it. */
async function checkQuietStream() {
  if (!stream || !state.job || !ACTIVE.has(state.job.state) || Date.now() - lastHeard < QUIET_MS) return;
  lastHeard = Date.now();
  applyJob(await api("GET", "api/train/status"), { keepHistory: true });
}

function closeStream() {
  if (stream) stream.close();
  stream = null;
}

async function recover() {
  const job = await api("GET", "api/train/status");
  applyJob(job);
  if (ACTIVE.has(job.state) && reconnects < 5) {
    reconnects += 1;
    setTimeout(openStream, 1000 * reconnects);
  } else {
    await finished();
  }
}

async function finished() {
  const job = state.job;
  await refreshSession();
  emit("weights");
  emit("job-ended", job);
  refreshWatch();
  // The status line says how it ended; only a failure needs a louder message.
  if (job && job.state === "failed") notify(job.message || "Training failed.", "error");
}

/** Take in a JOB from the server: status line, buttons, curves. */
export function applyJob(job, { keepHistory = false } = {}) {
  if (!job) return;
  state.job = job;
  if (job.history && !(keepHistory && job.history.length < state.history.length)) state.history = job.history;
  if (job.points && !(keepHistory && job.points.length < state.points.length)) state.points = job.points;
  renderStatus();
  updateButtons();
  scheduleRedraw();
  emit("job", job);
  if (ACTIVE.has(job.state) && !stream) openStream();
}

function renderStatus() {
  const job = state.job;
  const box = $("train-status");
  box.className = `status ${job.state}`;
  if (job.state === "idle") {
    box.textContent = idleText();
    return;
  }
  const parts = [job.state];
  // job.epoch counts whole epochs done; in the middle of one, name the epoch under way (the one a
  // stop now would be "in"), so "epoch 3/6 · batch 848/1001" means 848 mini-batches into epoch 3.
  const midEpoch = ACTIVE.has(job.state) && job.kind !== "replay" && job.batch > 0;
  const epoch = midEpoch ? Math.floor(job.epoch) + 1 : job.epoch;
  if (job.epochs) parts.push(`epoch ${epoch}/${job.epochs}`);
  else parts.push(`epoch ${epoch}`);
  if (job.steps_per_epoch && ACTIVE.has(job.state)) parts.push(`batch ${job.batch}/${job.steps_per_epoch}`);
  if (job.lr !== undefined && job.lr !== null) parts.push(`lr ${short(job.lr)}`);
  // A rate set while paused (or mid-batch) applies from the next mini-batch; say so until it does.
  const pending = job.pending_lr ?? pendingLr;
  if (!ACTIVE.has(job.state) || (pending !== null && job.lr !== null && Math.abs(job.lr - pending) <= 1e-12 * pending)) pendingLr = null;
  else if (pending !== null) parts.push(`next batch: lr ${short(pending)}`);
  box.textContent = parts.join(" · ") + (job.message ? ` — ${job.message}` : "");
}

/** No training in this page yet: what the network is (a loaded one says how far it was trained). */
function idleText() {
  const done = epochsDone();
  const loaded = state.network && String(state.network.source || "").startsWith("loaded");
  if (!done) return "idle · not trained yet: press Start";
  return `idle · trained ${done} epoch${done === 1 ? "" : "s"}${loaded ? " before it was loaded (its curves below)" : ""}; Start trains it further`;
}

function updateButtons() {
  const s = state.job ? state.job.state : "idle";
  const running = s === "running";
  const paused = s === "paused";
  const busy = running || paused;
  $("new-network").disabled = busy;
  $("train-start").disabled = busy;
  $("train-pause").disabled = !running;
  $("train-resume").disabled = !paused;
  $("train-step").disabled = running;
  $("train-stop").disabled = !busy;
  $("live-lr-set").disabled = !busy;
  $("lr-find").disabled = busy;
}

// -- curves ------------------------------------------------------------------------------------------------------
function scheduleRedraw() {
  if (redrawQueued) return;
  redrawQueued = true;
  requestAnimationFrame(() => {
    redrawQueued = false;
    drawCurves($("loss-chart"), $("acc-chart"), state.viewEpoch);
    renderNumbers();
    emit("history");
  });
}

/** Draw the loss and accuracy charts into two <svg>s, with an optional marker at an epoch. */
export function drawCurves(lossSvg, accSvg, marker = null) {
  const history = state.history;
  const points = state.points;
  const last = points.length ? points[points.length - 1].t : 0;
  const target = state.job && ACTIVE.has(state.job.state) ? state.job.epochs : 0;
  const xMax = Math.max(1, last, target || 0, ...history.map((r) => r.epoch), marker || 0);
  const xDomain = [0, xMax];
  const byEpoch = (key, scale = 1) => history.filter((r) => r[key] !== null && r[key] !== undefined).map((r) => [r.epoch, r[key] * scale]);
  const hasVal = history.some((r) => r.val_accuracy !== null && r.val_accuracy !== undefined);
  // a snapshot where a run was stopped sits inside an epoch: name that epoch, not "epoch 10.563"
  const markerText = (e) => (Number.isInteger(e) ? `epoch ${e}` : `stopped in epoch ${Math.floor(e) + 1}`);
  const markerOptions = marker === null || marker === undefined ? {} : { marker, markerLabel: markerText(marker) };
  // A loss that explodes (a learning rate far too big) would flatten the rest of the curve to a line
  // at 0 and its ticks to unreadable numbers: past 8 times an untrained network's loss (log of the number
  // of classes), the axis turns logarithmic.
  const losses = [...points.map((p) => p.loss), ...history.flatMap((r) => [r.loss, r.val_loss])].filter((v) => Number.isFinite(v) && v > 0);
  const top = losses.length ? Math.max(...losses) : 0;
  const exploded = top > 8 * Math.max(1, Math.log(classes().length));
  const lastLoss = [...history].reverse().find((r) => r.loss !== null && r.loss !== undefined);
  lineChart(lossSvg, {
    xDomain, integerX: true, yFloor: 0, xLabel: "epoch", yLabel: exploded ? "loss (log scale)" : "loss", yLog: exploded,
    corner: exploded ? `highest ${num(top, 3)}${lastLoss ? ` · last epoch ${num(lastLoss.loss, 3)}` : ""}` : "",
    ...markerOptions,
    series: [
      { id: "batch-loss", label: "mini-batches", colour: "#9aa7ba", width: 1.2, points: points.map((p) => [p.t, p.loss]) },
      { id: "train-loss", label: "train (epoch)", colour: "#2563eb", dots: true, points: byEpoch("loss") },
      { id: "val-loss", label: hasVal ? "validation" : "", colour: "#ea7a14", dots: true, points: byEpoch("val_loss") },
    ],
  });
  const acc = [
    { id: "batch-accuracy", label: "mini-batches", colour: "#9aa7ba", width: 1.2, points: points.filter((p) => p.accuracy !== undefined).map((p) => [p.t, 100 * p.accuracy]) },
    { id: "train-accuracy", label: "train", colour: "#2563eb", dots: true, points: byEpoch("accuracy", 100) },
    { id: "val-accuracy", label: hasVal ? "validation" : "", colour: "#ea7a14", dots: true, points: byEpoch("val_accuracy", 100) },
    { id: "test-accuracy", label: "test", colour: "#15803d", dots: true, points: byEpoch("test_accuracy", 100) },
  ];
  const lows = acc.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const low = lows.length ? Math.max(0, Math.floor((Math.min(...lows) - 2) / 10) * 10) : 0;
  lineChart(accSvg, { xDomain, integerX: true, yDomain: [low, 100], xLabel: "epoch", yLabel: "accuracy (%)", ...markerOptions, series: acc });
}

/** The number of a big box and the label that says what it is. */
function big(id, label, value) {
  $(id).textContent = value;
  $(id).parentElement.querySelector(".label").textContent = label;
}

/** Whole epochs trained: the last epoch record's (a loaded model's history included), or the job's. */
function epochsDone() {
  const history = state.history;
  const last = history.length ? history[history.length - 1].epoch : 0;
  return state.job && ACTIVE.has(state.job.state) ? Math.max(Math.floor(state.job.epoch), 0) : last;
}

function renderNumbers() {
  const history = state.history;
  // the last epoch that trained (a fine-tuning's record has no training loss), and the last of all
  const lastRecord = [...history].reverse().find((r) => r.loss !== null && r.loss !== undefined);
  const lastAny = history[history.length - 1];
  const at = (r) => (r ? ` · epoch ${r.epoch}` : "");
  big("big-epoch", "epochs trained", String(epochsDone()));
  big("big-loss", `training loss${at(lastRecord)}`, lastRecord ? num(lastRecord.loss, 3) : "–");
  big("big-train-acc", `train accuracy${at(lastRecord)}`, lastRecord ? pct(lastRecord.accuracy, 2) : "–");
  big("big-val-acc", `validation accuracy${at(lastRecord)}`, lastRecord ? pct(lastRecord.val_accuracy, 2) : "–");
  // Datasets without a validation split (the bundled digits): no empty validation columns.
  const hasVal = history.some((r) => r.val_accuracy !== null && r.val_accuracy !== undefined);
  $("big-val-acc").parentElement.hidden = !hasVal;
  $("epoch-table").classList.toggle("no-validation", !hasVal);
  // The test accuracy of the last record; a loaded model's history may not have one: then the network's
  // own score now (the number Evaluate shows).
  if (lastAny && lastAny.test_accuracy !== null && lastAny.test_accuracy !== undefined) big("big-test-acc", `test accuracy${at(lastAny)}`, pct(lastAny.test_accuracy, 2));
  else if (testNow && testNow.epoch === epochsDone()) big("big-test-acc", "test accuracy · now", pct(testNow.accuracy, 2));
  else big("big-test-acc", "test accuracy", "–");
  const body = clear($("epoch-table").tBodies[0]);
  for (const r of history) {
    body.append(el("tr", { "data-epoch": r.epoch },
      el("td", {}, String(r.epoch)), el("td", {}, num(r.loss)), el("td", {}, pct(r.accuracy)), el("td", {}, num(r.val_loss)),
      el("td", {}, pct(r.val_accuracy)), el("td", {}, pct(r.test_accuracy)), el("td", {}, short(r.lr)),
      el("td", {}, r.seconds === undefined || r.seconds === null ? "–" : r.seconds.toFixed(1))));
  }
}

// -- learning-rate finder ------------------------------------------------------------------------------------------
async function findLr() {
  const button = $("lr-find");
  button.disabled = true;
  button.textContent = "Finding…";
  try {
    const r = await api("POST", "api/lr-find", {
      start: 1e-5, end: 10, steps: 100, batch_size: checked("train-batch", "Batch size", { min: 1, whole: true }),
      optimizer: $("train-optimizer").value, momentum: Number($("train-momentum").value),
    });
    lrSuggestion = r.suggestion;
    $("lrf-card").hidden = false;
    const at = r.lrs.reduce((best, lr, i) => (Math.abs(Math.log(lr / r.suggestion)) < Math.abs(Math.log(r.lrs[best] / r.suggestion)) ? i : best), 0);
    lineChart($("lrf-chart"), {
      xLog: true, xLabel: "learning rate (log scale)", yLabel: "loss", width: 1100, height: 340,
      yDomain: lossRange(r),
      series: [
        { id: "lrf-loss", label: "loss per step", colour: "#9aa7ba", width: 1.2, points: r.lrs.map((lr, i) => [lr, r.losses[i]]) },
        { id: "lrf-smoothed", label: "smoothed", colour: "#2563eb", points: r.lrs.map((lr, i) => [lr, r.smoothed[i]]) },
      ],
      notes: Number.isFinite(r.suggestion) ? [{ x: r.suggestion, y: r.smoothed[at], text: `suggested: ${short(r.suggestion)}`, colour: "#c2261d" }] : [],
    });
    const text = clear($("lrf-text"));
    text.append(el("b", {}, `Suggested learning rate: ${short(r.suggestion)}. `), r.rule_text || "");
    for (const w of r.warnings || []) text.append(el("br"), el("span", { class: "warn" }, `⚠ ${w}`));
    $("lrf-use").disabled = !Number.isFinite(r.suggestion);
    $("lrf-card").scrollIntoView({ block: "nearest" });
  } finally {
    button.textContent = "Find a learning rate";
    updateButtons();
  }
}

/** The y range of the finder plot: all of the curve but its last steps, where the loss blows up. */
function lossRange(r) {
  const smoothed = r.smoothed.filter(Number.isFinite);
  if (!smoothed.length) return undefined;
  const body = smoothed.slice(0, Math.max(2, Math.ceil(0.85 * smoothed.length)));
  const low = Math.min(...body, ...r.losses.filter(Number.isFinite));
  const high = Math.max(...body, low + 1e-3);
  const pad = 0.05 * (high - low);
  return [Math.max(0, low - pad), high + pad];
}
