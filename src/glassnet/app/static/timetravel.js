// Time travel tab: a slider over the per-epoch snapshots moves the curves, the network diagram and
// the prediction for the current drawing back to that epoch; a run can be replayed from its seed.

import { api, guard, notify, singleFlight } from "./api.js";
import { $, clear, debounce, probabilityBars } from "./widgets.js";
import { NetworkDiagram } from "./diagram.js";
import { state, on, classes, setViewEpoch } from "./state.js";
import { applyJob, drawCurves, openStream } from "./train.js";

let diagram = null;
let snapshots = [];
let drawnFor = null;
let replaying = false;

export function init() {
  diagram = new NetworkDiagram($("tt-diagram"), { testid: "tt-diagram", height: 400 });
  const slider = $("tt-slider");
  const go = debounce(guard(() => setViewEpoch(snapshots[Number(slider.value)].epoch)), 120);
  slider.addEventListener("input", () => {
    if (!snapshots.length) return;
    labelEpoch(snapshots[Number(slider.value)].epoch);
    go();
  });
  $("tt-latest").addEventListener("click", guard(() => setViewEpoch(null)));
  $("tt-replay").addEventListener("click", guard(replay));
  on("view", () => {
    if (visible()) guard(refresh)();
  });
  on("history", () => { if (visible()) curves(); });
  on("job-ended", (job) => {
    if (!replaying) return;
    replaying = false;
    $("tt-replay").disabled = false;
    const box = $("tt-replay-result");
    box.textContent = job.message || `Replay ${job.state}.`;
    if (job.replay) box.className = `explain ${job.replay.matches ? "good" : "bad"}`;
    if (visible()) guard(refresh)();
  });
  on("job", (job) => { $("tt-replay").disabled = replaying || ["running", "paused"].includes(job.state); });
  on("network", () => { drawnFor = null; });
}

export function shown() {
  return refresh();
}

/** Other tabs keep using the viewed epoch (the banner says so); this one redraws only when open. */
function visible() {
  return document.body.dataset.tab === "timetravel";
}

/** A snapshot in words: "start, before training", "epoch 3 of 5", "epoch 11 of 11, stopped 56% of the way
 * through"; a loaded model's first one is where it came in ("as loaded, after epoch 30"). */
export function snapshotText(epoch, last, first, label) {
  const of = Math.ceil(last);
  if (first) {
    return String(label || "").startsWith("as loaded") ? `as loaded, after epoch ${epoch} (trained before it was loaded; no snapshots of earlier epochs)` : "start, before training";
  }
  if (Number.isInteger(epoch)) return `epoch ${epoch} of ${of}`;
  const whole = Math.floor(epoch);
  return `epoch ${whole + 1} of ${of}, stopped ${Math.round(100 * (epoch - whole))}% of the way through`;
}

function labelEpoch(epoch) {
  const index = snapshots.findIndex((s) => s.epoch === epoch);
  const snap = snapshots[index];
  const last = snapshots.length ? snapshots[snapshots.length - 1].epoch : 0;
  const where = snapshots.length < 2 ? "the only snapshot: training adds one per epoch" : `snapshot ${index + 1} of ${snapshots.length}`;
  $("tt-epoch").textContent = `${snapshotText(epoch, last, index === 0, snap && snap.label)} (${where})`;
  $("tt-epoch").title = snap && snap.label ? snap.label : "";
}

async function refresh() {
  const tl = await api("GET", "api/timeline");
  state.timeline = tl;
  snapshots = tl.snapshots || [];
  const slider = $("tt-slider");
  slider.max = String(Math.max(0, snapshots.length - 1));
  slider.disabled = snapshots.length < 2;
  $("tt-replay").disabled = replaying || !tl.replayable || Boolean(state.job && ["running", "paused"].includes(state.job.state));
  $("tt-replay").title = tl.replayable ? `retrain from the start with seed ${tl.seed} and compare bit for bit` : "this timeline cannot be replayed (for example, the network was loaded or edited)";
  const viewing = state.viewEpoch;
  const index = viewing === null ? snapshots.length - 1 : snapshots.findIndex((s) => s.epoch === viewing);
  slider.value = String(Math.max(0, index));
  if (snapshots.length) labelEpoch(snapshots[Math.max(0, index)].epoch);
  else $("tt-epoch").textContent = "no snapshots yet: train first";
  curves();
  if (state.network) await predict(state.source || { test_index: 0 });
}

function curves() {
  drawCurves($("tt-loss-chart"), $("tt-acc-chart"), state.viewEpoch ?? (snapshots.length ? snapshots[snapshots.length - 1].epoch : null));
}

const predict = singleFlight(async (source) => {
  const key = JSON.stringify(state.network.sizes);
  if (key !== drawnFor) {
    drawnFor = key;
    diagram.setNetwork(state.network, classes());
  }
  const r = await api("POST", "api/predict", source);
  const names = classes();
  $("tt-prediction").textContent = names[r.prediction] ?? String(r.prediction);
  $("tt-prediction").dataset.epoch = r.epoch === null || r.epoch === undefined ? "latest" : String(r.epoch);
  probabilityBars($("tt-bars"), r.probabilities, names, r.prediction);
  diagram.update(r);
});

async function replay() {
  const job = await api("POST", "api/timeline/replay");
  replaying = true;
  $("tt-replay").disabled = true;
  clear($("tt-replay-result")).append("Replaying: training again from the start snapshot with the recorded seeds…");
  $("tt-replay-result").className = "explain";
  notify("Replay started; the Train tab shows its progress.");
  applyJob(job);
  openStream();
}
