// Sign-in: a passkey, email and password, an invite (set a password), or an API key
// exchanged for a session. The server sets the HttpOnly session cookie; nothing secret
// is kept here.

import { call, errorOf, loadSession, setSession } from "./api.js";
import { initPage } from "./common.js";
import { passkeyWords, signIn, supported } from "./passkey.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

function next() {
  const target = params.get("next") || "/";
  return target.startsWith("/") && !target.startsWith("//") ? target : "/";
}

async function submit(path, body) {
  $("login-error").textContent = "";
  let response;
  try {
    response = await call(path, { method: "POST", body });
  } catch {
    $("login-error").textContent = "The gateway could not be reached.";
    return;
  }
  if (response.ok) {
    setSession(await response.json().catch(() => null));
    location.assign(next());
    return;
  }
  $("login-error").textContent = response.status === 404
    ? "Sign-in is not enabled on this gateway."
    : response.status === 401 ? "That did not match. Check it and try again." : (await errorOf(response)).message;
}

function form(id, path, fields) {
  $(id).addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(event.target));
    submit(path, fields(data));
  });
}

function passkeys() {
  if (!supported()) return;
  $("passkey-box").hidden = false;
  const button = $("passkey-sign-in");
  button.addEventListener("click", async () => {
    $("login-error").textContent = "";
    button.disabled = true;
    try {
      setSession(await signIn());
      location.assign(next());
    } catch (error) {
      $("login-error").textContent = passkeyWords(error);
      button.disabled = false;
    }
  });
}

function expired() {
  const why = params.get("expired") ? "Your session has ended (it expired or was signed out elsewhere). Sign in again to continue." : "";
  if (why) {
    const note = $("login-note");
    note.textContent = why;
    note.hidden = false;
  }
}

async function start() {
  initPage();
  if (params.get("invite")) {
    $("login-title").textContent = "Create your account";
    $("password-form").hidden = true;
    $("invite-form").hidden = false;
  } else {
    passkeys();
    expired();
  }
  form("password-form", "/auth/login", (d) => ({ email: d.email, password: d.password }));
  form("invite-form", "/auth/signup", (d) => ({ invite: params.get("invite"), email: d.email, password: d.password }));
  form("key-form", "/auth/login", (d) => ({ api_key: d.api_key.trim() }));
  if (await loadSession()) $("login-error").textContent = "You are already signed in.";
  document.body.dataset.ready = "true";
}

start();
