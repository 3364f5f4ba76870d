// Models tab: save the network under a name (asking before replacing one), load one, delete one of
// yours, download it, upload a .safetensors file.

import { ApiError, api, guard, notify } from "./api.js";
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
    const actions = el("td", {}, load);
    if (m.mine) {
      const remove = el("button", { type: "button", testid: `model-delete-${m.name}` }, "Delete");
      remove.addEventListener("click", guard(() => deleteModel(m.name)));
      actions.append(" ", remove);
    }
    body.append(el("tr", { "data-model": m.name },
      el("td", {}, m.name), el("td", {}, (m.sizes || []).join("–")), el("td", {}, m.dataset || "–"),
      el("td", {}, m.saved || "–"), el("td", {}, m.mine ? "yours" : "shared"), actions));
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
  let r;
  try {
    r = await api("POST", "api/models/save", { name });
  } catch (err) {
    // 409: the name is taken. One of yours may be replaced, but only when you say so.
    if (!(err instanceof ApiError && err.status === 409 && /overwrite/.test(err.detail))) throw err;
    if (!window.confirm(`A model named “${name}” already exists. Replace it with this network?`)) {
      notify(`Not saved: “${name}” is kept as it was. Pick another name to keep both.`);
      return;
    }
    r = await api("POST", "api/models/save", { name, overwrite: true });
  }
  notify(r.replaced ? `Replaced “${r.name}”.` : `Saved as “${r.name}”.`);
  await list();
}

async function deleteModel(name) {
  if (!window.confirm(`Delete the model “${name}”? This cannot be undone.`)) return;
  await api("DELETE", `api/models/${encodeURIComponent(name)}`);
  notify(`Deleted “${name}”.`);
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
