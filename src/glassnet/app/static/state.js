// What the page knows about its workspace, shared by the tabs, and a tiny event bus.
//
// Events: "session" (after /api/session was read), "network" (a new or loaded network),
// "job" (training state changed), "history" (new loss points or epoch records),
// "source" (a new drawing or test example to look at), "edits", "view" (time-travel epoch).

import { api } from "./api.js";

export const state = {
  session: null,     // the last GET /api/session answer
  network: null,     // NET
  datasets: [],
  dataset: null,
  job: null,         // JOB
  history: [],       // epoch records
  points: [],        // loss points within epochs
  timeline: null,
  viewEpoch: null,   // null = the latest weights
  edits: [],
  source: null,      // {drawing: ...} or {test_index: n}: the example the Draw tab looks at
  sourceName: "",    // "your drawing" / "test example 12"
  selected: null,    // {layer, neuron} picked in the diagram
};

const listeners = new Map();

export function on(name, fn) {
  if (!listeners.has(name)) listeners.set(name, []);
  listeners.get(name).push(fn);
}

export function emit(name, data) {
  for (const fn of listeners.get(name) || []) fn(data);
}

export function classes() {
  return (state.dataset && state.dataset.classes) || ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
}

// -- reading the workspace from the server ------------------------------------------------------------

let lastNetworkKey = null;

/** GET /api/session and tell every tab; emits "network" too when the network is not the one shown. */
export async function refreshSession() {
  const s = await api("GET", "api/session");
  state.session = s;
  state.network = s.network;
  state.datasets = s.datasets || [];
  state.dataset = s.dataset;
  state.timeline = s.timeline;
  state.viewEpoch = s.view_epoch ?? null;
  state.edits = s.edits || [];
  if (s.training) {
    state.job = s.training;
    state.history = s.training.history || [];
    state.points = s.training.points || [];
  }
  emit("session", s);
  const key = JSON.stringify([s.network && s.network.sizes, s.network && s.network.source, s.network && s.network.activation]);
  if (key !== lastNetworkKey) {
    lastNetworkKey = key;
    emit("network", s.network);
  }
  return s;
}

/** Force the next refreshSession() to announce the network as new (after New network / load / upload). */
export function networkReplaced() {
  lastNetworkKey = null;
}

/** Look at the weights of a past epoch (null = the latest): POST /api/timeline/view. */
export async function setViewEpoch(epoch) {
  const r = await api("POST", "api/timeline/view", { epoch });
  state.viewEpoch = r.view_epoch ?? null;
  emit("view", state.viewEpoch);
  emit("weights");
  return state.viewEpoch;
}
