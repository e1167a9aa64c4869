// Talking to the gateway: the session (cookie + CSRF token from /auth/session), and
// errors turned into words. The page uses the same /v1 API as any client.

let csrfToken = null;
let session = null;
let loading = null;

// The session, asked once per page load (every part of the page shares the answer);
// `again` asks afresh (after signing in elsewhere).
export function loadSession(again = false) {
  if (!loading || again) loading = fetchSession();
  return loading;
}

async function fetchSession() {
  try {
    const response = await fetch("/auth/session", { credentials: "same-origin" });
    if (response.ok) {
      session = await response.json();
      csrfToken = session.csrf_token || null;
      return session;
    }
    setSession(null);
  } catch {
    // offline or no sign-in on this gateway: the /v1 calls will say what is wrong
  }
  return null;
}

export function currentSession() {
  return session;
}

export function setSession(value) {
  session = value;
  csrfToken = value ? value.csrf_token || null : null;
}

export function headers(extra = {}) {
  const out = { ...extra };
  if (csrfToken) out["X-CSRF-Token"] = csrfToken;
  return out;
}

export async function call(path, { method = "GET", body, signal, json = true } = {}) {
  const init = { method, credentials: "same-origin", signal, headers: headers() };
  if (body !== undefined) {
    // A string is sent as it is: the page keeps its exact bytes to check the receipt.
    init.body = json && typeof body !== "string" ? JSON.stringify(body) : body;
    if (json) init.headers["Content-Type"] = "application/json";
  }
  return fetch(path, init);
}

export class ApiError extends Error {
  constructor(status, message, code, retryAfter, detail) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.detail = detail;  // the gateway's own message, when it sent one
  }
}

export async function errorOf(response) {
  let envelope = {};
  try {
    envelope = (await response.json()).error || {};
  } catch {
    // not JSON: the status says enough
  }
  const retry = response.headers.get("retry-after");
  return new ApiError(response.status, words(response.status, envelope, retry), envelope.code, retry, envelope.message);
}

export function words(status, envelope, retry) {
  const detail = envelope.message || "";
  if (status === 401) return "Your session has expired or you are not signed in. Sign in again to continue.";
  if (status === 402) return `Your budget is used up. ${detail}`.trim();
  if (status === 403) return detail || "This account may not do that.";
  if (status === 404 && envelope.code === "no_zdr_endpoint")
    return `No provider that keeps nothing can take this request, so nothing was sent. ${detail}`;
  if (status === 429) return `Too many requests. ${detail.replace(/\s*Try again in \d+s\.?$/, "")} ${retry ? `Try again in ${retry} s.` : "Wait a moment and try again."}`.replace(/\s+/g, " ");
  if (status === 413) return "That message (or its images) is too large for this gateway.";
  if (status >= 500) return `The provider or the gateway failed (${status}). Nothing was kept. Try again.`;
  return detail || `The request failed (${status}).`;
}

export function networkWords(error) {
  if (error && error.name === "AbortError") return "Stopped.";
  if (!navigator.onLine) return "You are offline. Your message was not sent.";
  return "The gateway could not be reached. Check the connection and try again.";
}
