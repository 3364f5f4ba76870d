// glassnet app: the page. Plain ES modules, no build step, nothing loaded from elsewhere.
//
// app.js wires the tabs together; each tab lives in its own module (train.js, draw.js, ...)
// with an init() that binds its controls and an optional shown() called when its tab opens.

import { guard, notify, showError } from "./api.js";
import { $, el, clear } from "./widgets.js";
import { state, on, refreshSession, setViewEpoch } from "./state.js";
import * as train from "./train.js";
import * as draw from "./draw.js";
import * as inside from "./inside.js";
import * as evaluate from "./evaluate.js";
import * as handwriting from "./handwriting.js";
import * as timetravel from "./timetravel.js";
import * as models from "./models.js";
import * as plane from "./plane.js";

const TABS = { train, draw, inside, evaluate, handwriting, timetravel, models, plane };
let current = null;
let ready = false;   // the first /api/session answer has arrived (and set the workspace cookie)

function showTab(name) {
  if (!TABS[name]) name = "train";
  for (const button of document.querySelectorAll(".tabs button")) {
    const selected = button.dataset.tab === name;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;          // one Tab stop for the tab list; the arrows move inside it
  }
  for (const key of Object.keys(TABS)) $(`panel-${key}`).hidden = key !== name;
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  current = name;
  document.body.dataset.tab = name;
  if (ready && TABS[name].shown) guard(TABS[name].shown)();
}

function renderSummary() {
  const net = state.network;
  const box = clear($("net-summary"));
  if (!net) return;
  const ds = state.dataset ? state.dataset.name : "?";
  box.append("network ", el("b", {}, net.sizes.join("–")), ` · ${net.activation} · `,
    el("b", {}, net.n_params.toLocaleString("en")), " weights and biases · ", ds,
    ` · ${net.trained ? "trained" : "untrained"} · ${net.source}`);
  if (state.edits.length) box.append(" · ", el("b", { class: "warn" }, `${state.edits.length} edit${state.edits.length > 1 ? "s" : ""}`));
}

function renderBanner() {
  const epoch = state.viewEpoch;
  $("view-banner").hidden = epoch === null || epoch === undefined;
  $("view-banner-text").textContent = `Time travel: every view shows the weights as they were after epoch ${epoch}` +
    (epoch === 0 ? " (before any training)." : ".");
}

function boot() {
  const buttons = [...document.querySelectorAll(".tabs button")];
  for (const button of buttons) {
    button.setAttribute("aria-controls", `panel-${button.dataset.tab}`);
    button.addEventListener("click", () => showTab(button.dataset.tab));
    button.addEventListener("keydown", (e) => {
      const i = buttons.indexOf(button);
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: buttons.length - 1 }[e.key];
      if (next === undefined) return;
      e.preventDefault();
      const target = buttons[(next + buttons.length) % buttons.length];
      showTab(target.dataset.tab);
      target.focus();
    });
  }
  window.addEventListener("hashchange", () => showTab(location.hash.slice(1)));
  $("view-banner-latest").addEventListener("click", guard(() => setViewEpoch(null)));
  on("show-tab", showTab);
  on("session", (s) => {
    renderSummary();
    renderBanner();
    $("version").textContent = `glassnet ${s.version || ""}`;
    // What the server restored after a restart, or kept before replacing a network: said once.
    for (const text of s.notices || []) notify(text);
  });
  on("view", renderBanner);
  on("edits", renderSummary);
  for (const tab of Object.values(TABS)) tab.init();
  showTab(location.hash.slice(1) || "train");
  // The first request gets this browser its workspace cookie; every other request waits for it,
  // or requests sent at the same moment would each get a workspace of their own.
  refreshSession()
    .then(() => {
      ready = true;
      showTab(current);
    })
    .catch((err) => {
      showError(err);
      $("net-summary").textContent = "The server did not answer; reload the page to try again.";
    });
}

window.addEventListener("unhandledrejection", (event) => showError(event.reason));
boot();
