// The account page: profile, usage and budget meters, keys, export, deletion (typed
// email to confirm). Everything through the same API as any client.

import { call, currentSession, errorOf, loadSession } from "./api.js";
import { initPage } from "./common.js";
import { el } from "./dom.js";
import { download } from "./history.js";
import { passkeyWords, register, supported } from "./passkey.js";

const $ = (id) => document.getElementById(id);
let account = null;

const usd = (n) => `$${Number(n || 0).toFixed(4).replace(/0{1,2}$/, "")}`;

async function json(path, options) {
  const response = await call(path, options);
  if (response.status === 401 && account) {
    // The session ended while the page was open: sign in again, then come back here.
    location.assign("/login?expired=1&next=/account");
  }
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

function meter(label, spent, budget) {
  const share = budget ? Math.min(spent / budget, 1) : 0;
  const bar = el("span");
  bar.style.width = `${(share * 100).toFixed(1)}%`;
  return el("div", { class: "meter-row" }, [
    el("p", {}, budget ? `${label}: ${usd(spent)} of ${usd(budget)}` : `${label}: ${usd(spent)} (no budget set)`),
    el("div", { class: "meter", role: "meter", "aria-label": label, "aria-valuemin": 0, "aria-valuemax": budget || 1, "aria-valuenow": budget ? spent : 0 }, bar),
  ]);
}

async function usage() {
  const today = new Date().toISOString().slice(0, 10);
  const since = `${today.slice(0, 8)}01`;
  const rows = (await json(`/v1/usage?since=${since}`)).data;
  const spent = (filter) => rows.filter(filter).reduce((n, r) => n + r.cost_usd, 0);
  $("meters").replaceChildren(
    meter("Today", spent((r) => r.day === today), account?.budget_day_usd),
    meter("This month", spent(() => true), account?.budget_month_usd),
  );
  const body = $("usage-table").querySelector("tbody");
  body.replaceChildren(...(rows.length ? rows.slice().reverse().map((r) => el("tr", {}, [
    el("td", {}, r.day), el("td", {}, el("code", {}, r.model)), el("td", { class: "num" }, String(r.requests)),
    el("td", { class: "num" }, `${r.prompt_tokens} / ${r.completion_tokens}`), el("td", { class: "num" }, String(r.images)),
    el("td", { class: "num" }, usd(r.cost_usd)),
  ])) : [el("tr", {}, el("td", { colspan: 6 }, "No usage this month."))]));
}

async function keys() {
  const rows = (await json("/v1/account/keys")).data;
  $("keys-table").querySelector("tbody").replaceChildren(...rows.map((k) => {
    const revoke = el("button", { type: "button", class: "btn small danger", "aria-label": `Revoke key ${k.name || k.id}` }, "Revoke");
    revoke.disabled = Boolean(k.revoked_at);
    revoke.addEventListener("click", async () => {
      await json(`/v1/account/keys/${encodeURIComponent(k.id)}/revoke`, { method: "POST", body: {} });
      keys();
    });
    return el("tr", {}, [
      el("td", {}, k.name || "(no name)"), el("td", {}, el("code", {}, k.id)), el("td", {}, (k.created_at || "").slice(0, 10)),
      el("td", {}, k.last_used_day || "never"), el("td", {}, k.revoked_at ? "revoked" : "active"), el("td", {}, revoke),
    ]);
  }));
}

function profile() {
  const facts = [["Email", account.email], ["Name", account.display_name || "–"], ["Role", account.role],
    ["Teams", (account.teams || []).map((t) => t.name).join(", ") || "–"], ["Member since", (account.created_at || "").slice(0, 10)]];
  $("profile-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  for (const id of ["profile", "keys", "data"]) $(id).hidden = false;
}

function passkeys() {
  const list = account.passkeys || [];
  $("passkey-list").replaceChildren(...(list.length
    ? list.map((p, i) => el("li", {}, `Passkey ${i + 1}: added ${(p.created_at || "").slice(0, 10)}, ${p.last_used_at ? `last used ${p.last_used_at.slice(0, 10)}` : "not used yet"}`))
    : [el("li", { class: "muted" }, "No passkey yet.")]));
  $("passkeys").hidden = false;
  const button = $("add-passkey");
  if (!supported()) {
    button.hidden = true;
    $("passkey-status").textContent = "Passkeys need this site opened by its name over HTTPS (or as http://localhost), not by an IP address.";
  } else if (!currentSession()?.account) {
    button.hidden = true;
    $("passkey-status").textContent = "You signed in with an API key: sign in with your email and password to add a passkey.";
  }
}

async function addPasskey() {
  const button = $("add-passkey");
  button.disabled = true;
  $("passkey-status").textContent = "Follow your browser's prompt…";
  try {
    await register();
    account = await json("/v1/account");
    passkeys();
    $("passkey-status").textContent = "Passkey added. Next time, choose “Sign in with a passkey”.";
  } catch (error) {
    $("passkey-status").textContent = passkeyWords(error);
  } finally {
    button.disabled = false;
  }
}

function wire() {
  $("add-passkey").addEventListener("click", addPasskey);
  $("new-key").addEventListener("submit", async (event) => {
    event.preventDefault();
    const made = await json("/v1/account/keys", { method: "POST", body: { name: event.target.elements.name.value } });
    $("new-key-secret").hidden = false;
    $("new-key-secret").replaceChildren("Your new key (shown once, copy it now): ", el("code", {}, made.key));
    event.target.reset();
    keys();
  });
  $("export").addEventListener("click", async () => {
    const data = await json("/v1/account/export");
    download(`zdrgate-account-${new Date().toISOString().slice(0, 10)}.json`, JSON.stringify(data, null, 2));
  });
  const confirm = $("delete-form").elements.confirm;
  confirm.addEventListener("input", () => {
    $("delete-button").disabled = confirm.value.trim().toLowerCase() !== account.email.toLowerCase();
  });
  $("delete-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if ($("delete-button").disabled) return;
    await json("/v1/account", { method: "DELETE" });
    document.querySelector("main").replaceChildren(el("h1", {}, "Your account is deleted"),
      el("p", {}, "Its keys and sessions stopped working at once. Usage rows remain without any link to you."));
  });
  $("sign-out").addEventListener("click", async () => {
    await call("/auth/logout", { method: "POST" }).catch(() => null);
    location.assign("/login");
  });
}

async function start() {
  initPage();
  await loadSession();
  try {
    account = await json("/v1/account");
    profile();
    passkeys();
    wire();
    await keys();
  } catch (error) {
    if (error.status === 401) { $("signin-needed").hidden = false; document.body.dataset.ready = "true"; return; }
    $("account-error").textContent = error.message;
    if (error.status === 403) $("account-error").className = "muted";  // an operator key: a fact, not a failure
  }
  try {
    await usage();
  } catch (error) {
    $("account-error").textContent = error.message;
  }
  document.body.dataset.ready = "true";
}

start().catch((error) => { $("account-error").textContent = error.message; });
