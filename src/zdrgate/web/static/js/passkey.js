// Passkeys (WebAuthn) with the browser's own navigator.credentials: the gateway sends
// the options as JSON (binary fields in base64url), the browser's authenticator answers,
// the answer goes back as JSON. No secret ever reaches this page: the private key stays
// in the authenticator (the device, a phone, a security key).

import { call, errorOf } from "./api.js";

// A passkey belongs to a domain name: a page opened by IP address (http://127.0.0.1)
// cannot use one, so it does not offer one.
const byAddress = () => /^[\d.]+$|^\[|:/.test(location.hostname);

export function supported() {
  return Boolean(window.PublicKeyCredential && navigator.credentials && window.isSecureContext) && !byAddress();
}

const bytes = (text) => {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
};

const text = (buffer) => {
  if (!buffer) return null;
  let s = "";
  for (const b of new Uint8Array(buffer)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

const descriptors = (list) => (list || []).map((d) => ({ ...d, id: bytes(d.id) }));

function creationOptions(json) {
  return {
    ...json,
    challenge: bytes(json.challenge),
    user: { ...json.user, id: bytes(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

function requestOptions(json) {
  return { ...json, challenge: bytes(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
}

function credentialJSON(credential) {
  const r = credential.response;
  const response = { clientDataJSON: text(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = text(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    response.authenticatorData = text(r.authenticatorData);
    response.signature = text(r.signature);
    response.userHandle = text(r.userHandle);
  }
  return {
    id: credential.id,
    rawId: text(credential.rawId),
    type: credential.type,
    response,
    authenticatorAttachment: credential.authenticatorAttachment || null,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}

// What a person reads when the ceremony does not end in a passkey.
export function passkeyWords(error) {
  if (error?.status === 404) return "Passkeys are not enabled on this gateway.";
  if (error?.status === 401) return "This passkey is not registered here (or was removed). Sign in another way.";
  if (error?.status) return error.message;
  if (error?.name === "NotAllowedError") return "No passkey was used: the request was cancelled, timed out, or this device has no passkey for this site.";
  if (error?.name === "InvalidStateError") return "This authenticator already holds a passkey for your account.";
  if (error?.name === "SecurityError") return "Passkeys need this site to be opened by its domain name over HTTPS (or on localhost).";
  if (error instanceof TypeError) return "The gateway could not be reached.";
  return `The passkey could not be used (${error?.name || "unknown error"}).`;
}

async function post(path, body) {
  const response = await call(path, { method: "POST", body: body ?? {} });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

// Sign in: the session view ({account, csrf_token, expires_at}); the cookie is set.
export async function signIn() {
  const options = await post("/auth/passkey/login/options");
  const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
  return post("/auth/passkey/login", credentialJSON(credential));
}

// Register a passkey for the signed-in account (the session's CSRF token is sent).
export async function register() {
  const options = await post("/auth/passkey/register/options");
  const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
  return post("/auth/passkey/register", credentialJSON(credential));
}
