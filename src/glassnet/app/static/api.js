// Talking to the glassnet server, and the message area for its answers.
//
// Every call goes through api(): JSON in, JSON out, and a readable error (the server's `detail`)
// when the answer is not 2xx. Event handlers are wrapped with guard() so that a failed request
// becomes a visible message instead of an unhandled promise rejection.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

/** Call the API: `api("POST", "api/predict", {test_index: 0})`. Paths are relative to the page. */
export async function api(method, path, body = undefined, { raw = false, contentType = null } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    if (raw) {
      init.body = body;
      init.headers["Content-Type"] = contentType || "application/octet-stream";
    } else {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `The server did not answer (${err.message}). Is "glassnet app" still running?`);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text.slice(0, 300) };
    }
  }
  if (!response.ok) {
    let detail = data && data.detail !== undefined ? data.detail : `${response.status} ${response.statusText}`;
    if (typeof detail !== "string") detail = JSON.stringify(detail);  // e.g. a list of validation errors
    throw new ApiError(response.status, detail);
  }
  return data;
}

// -- messages: a small stack of notes in a corner; they never block the page -----------------------
const LIFETIME_MS = { info: 5000, error: 12000 };

export function notify(text, kind = "info") {
  const area = document.getElementById("messages");
  if (!area) return;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "message-close";
  close.textContent = "×";
  close.setAttribute("aria-label", "close this message");
  const note = document.createElement("div");
  note.className = `message message-${kind}`;
  note.dataset.testid = `message-${kind}`;
  note.setAttribute("role", kind === "error" ? "alert" : "status");
  const span = document.createElement("span");
  span.textContent = text;
  note.append(span, close);
  close.addEventListener("click", () => note.remove());
  area.append(note);
  while (area.children.length > 4) area.firstElementChild.remove();
  setTimeout(() => note.remove(), LIFETIME_MS[kind] || 6000);
}

export function showError(err) {
  if (err instanceof ApiError) {
    notify(err.detail, "error");           // the server said no, in one sentence: show it
    return;
  }
  // Anything else is a bug in this page: show it, and log it for the developer tools (and the tests).
  notify((err && err.message) || String(err), "error");
  console.error(err);
}

/** Wrap an async event handler: errors become messages, never unhandled rejections. */
export function guard(fn) {
  return (...args) => {
    try {
      const result = fn(...args);
      if (result && typeof result.then === "function") result.catch(showError);
      return result;
    } catch (err) {
      showError(err);
      return undefined;
    }
  };
}

/**
 * Run `fn(arg)` at most once at a time; calls made meanwhile collapse into one more run with the
 * latest argument (so a fast drawing hand never queues up a backlog of predictions).
 */
export function singleFlight(fn) {
  let running = false;
  let pending = null;
  let hasPending = false;
  return async (arg) => {
    pending = arg;
    hasPending = true;
    if (running) return;
    running = true;
    try {
      while (hasPending) {
        const next = pending;
        hasPending = false;
        try {
          await fn(next);
        } catch (err) {
          showError(err);
        }
      }
    } finally {
      running = false;
    }
  };
}
