// Models tab: save the network under a name, load one, download it, upload a .safetensors file.

import { api, guard, notify } from "./api.js";
import { $, el, clear } from "./widgets.js";
import { emit, networkReplaced, refreshSession } from "./state.js";

export function init() {
  $("model-save-form").addEventListener("submit", guard(save));
  $("model-upload-form").addEventListener("submit", guard(upload));
  $("models-refresh").addEventListener("click", guard(list));
}

export function shown() {
  return list();
}

async function list() {
  const r = await api("GET", "api/models");
  const box = clear($("models-list"));
  if (!r.items.length) {
    box.append(el("p", { class: "hint" }, "No saved models yet."));
    return;
  }
  const body = el("tbody");
  for (const m of r.items) {
    const load = el("button", { type: "button", testid: `model-load-${m.name}` }, "Load");
    load.addEventListener("click", guard(() => loadModel(m.name)));
    body.append(el("tr", { "data-model": m.name },
      el("td", {}, m.name), el("td", {}, (m.sizes || []).join("–")), el("td", {}, m.dataset || "–"),
      el("td", {}, m.saved || "–"), el("td", {}, m.mine ? "yours" : "shared"), el("td", {}, load)));
  }
  box.append(el("div", { class: "table-wrap" }, el("table", { class: "numbers models-table" },
    el("thead", {}, el("tr", {}, ["name", "layers", "dataset", "saved", "", ""].map((h) => el("th", {}, h)))), body)));
}

async function save(event) {
  event.preventDefault();
  const name = $("model-name").value.trim();
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(name)) {
    notify(`A model name is 1-40 letters, digits, _ or -; received "${name}".`, "error");
    return;
  }
  const r = await api("POST", "api/models/save", { name });
  notify(`Saved as “${r.name}”.`);
  await list();
}

async function replaced(what) {
  networkReplaced();
  await refreshSession();
  emit("weights");
  notify(what);
}

async function loadModel(name) {
  const net = await api("POST", "api/models/load", { name });
  await replaced(`Loaded “${name}”: ${net.sizes.join("–")}.`);
}

async function upload(event) {
  event.preventDefault();
  const file = $("model-upload-file").files[0];
  if (!file) {
    notify("Choose a .safetensors file first.", "error");
    return;
  }
  const net = await api("POST", "api/models/upload", file, { raw: true, contentType: "application/octet-stream" });
  await replaced(`Uploaded ${file.name}: ${net.sizes.join("–")}.`);
  $("model-upload-file").value = "";
}
