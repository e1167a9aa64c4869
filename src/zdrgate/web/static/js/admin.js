// The admin page: accounts (create with an invite link, limits and budgets, sign out
// everywhere, delete), teams (limits and budgets), keys (created and shown once, limits
// and budgets, rotate, revoke), usage and the audit log, all over the same /v1/admin
// API any admin client uses. A member's session gets 403 from that API,
// and the page says so and shows nothing else.

import { call, errorOf, loadSession } from "./api.js";
import { initPage } from "./common.js";
import { el } from "./dom.js";
import * as rows from "./admin_tables.js";

const $ = (id) => document.getElementById(id);
let accounts = [];
let teams = [];

async function json(path, options) {
  const response = await call(path, options);
  if (response.status === 401 && !$("admin-body").hidden) location.assign("/login?expired=1&next=/admin");
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

function failed(error) {
  $("admin-error").textContent = error.message;
}

// Run an action; on success clear the error and redraw what it changed.
async function act(action, ...redraw) {
  $("admin-error").textContent = "";
  $("admin-status").textContent = "";
  let out = null;
  try {
    out = await action();
  } catch (error) {
    failed(error);
  }
  for (const draw of redraw) {  // in order: keys name their owners from the accounts
    try {
      await draw();
    } catch (error) {
      failed(error);
    }
  }
  return out;
}

const body = (id) => $(id).querySelector("tbody");
const empty = (cols, text) => el("tr", {}, el("td", { colspan: cols, class: "muted" }, text));
const path = (kind, id) => `/v1/admin/${kind}/${encodeURIComponent(id)}`;

function fillSelects() {
  for (const select of document.querySelectorAll(".team-select")) {
    const first = select.options[0];
    select.replaceChildren(first, ...teams.map((t) => el("option", { value: t.id }, t.name)));
  }
  for (const select of document.querySelectorAll(".account-select")) {
    const first = select.options[0];
    select.replaceChildren(first, ...accounts.map((a) => el("option", { value: a.id }, a.email)));
  }
}

// Open the limits editor under a row (once); saving PATCHes `target` and redraws.
function editLimits(row, subject, label, columns, target, ...redraw) {
  if (row.nextElementSibling?.classList.contains("model-detail")) return;
  const save = (limits) => act(() => json(target, { method: "PATCH", body: limits }), ...redraw, loadAudit);
  const editor = rows.limitsEditor(subject, label, columns, save, () => editor.remove());
  row.after(editor);
  editor.querySelector("input").focus();
}

async function loadAccounts() {
  accounts = (await json("/v1/admin/accounts")).data;
  const member = (a) => teams.filter((t) => (t.members || []).includes(a.id)).map((t) => ({ name: t.name }));
  body("accounts-table").replaceChildren(...(accounts.length
    ? accounts.map((a) => ({ ...a, teams: member(a) })).map((a) => {
      const row = rows.accountRow(a, {
        limits: () => editLimits(row, a, a.email, 7, path("accounts", a.id), loadAccounts),
        signOut: () => act(async () => {
          const done = await json(`${path("accounts", a.id)}/sessions/revoke`, { method: "POST", body: {} });
          $("admin-status").textContent = `${a.email}: ${done.sessions_revoked} session${done.sessions_revoked === 1 ? "" : "s"} ended.`;
        }, loadAccounts, loadAudit),
        remove: () => act(() => json(path("accounts", a.id), { method: "DELETE" }), loadTeams, loadAccounts, loadKeys, loadAudit),
      });
      return row;
    })
    : [empty(7, "No account yet.")]));
  fillSelects();
}

async function loadTeams() {
  teams = (await json("/v1/admin/teams")).data;
  body("teams-table").replaceChildren(...(teams.length
    ? teams.map((t) => {
      const row = rows.teamRow(t, {
        limits: () => editLimits(row, t, `team ${t.name}`, 5, path("teams", t.id), loadTeams),
        remove: () => act(() => json(path("teams", t.id), { method: "DELETE" }), loadTeams, loadAccounts, loadAudit),
      });
      return row;
    })
    : [empty(5, "No team yet.")]));
  fillSelects();
}

// Show a key's secret, once, in the notice above the keys.
function showSecret(secret) {
  $("new-key").hidden = false;
  $("new-key-value").value = secret;
}

async function loadKeys() {
  const keys = (await json("/v1/admin/keys")).data;
  const owners = new Map(accounts.map((a) => [a.id, a.email]));
  const table = body("keys-table");
  table.replaceChildren(...(keys.length ? keys.map((k) => {
    const row = rows.keyRow(k, owners.get(k.account_id), {
      revoke: () => act(() => json(`${path("keys", k.id)}/revoke`, { method: "POST", body: {} }), loadKeys, loadAudit),
      rotate: async () => {
        const made = await act(() => json(`${path("keys", k.id)}/rotate`, { method: "POST", body: {} }), loadKeys, loadAudit);
        if (made) showSecret(made.key);
      },
      edit: () => editLimits(row, k, `key ${k.name || k.id}`, 7, path("keys", k.id), loadKeys),
    });
    return row;
  }) : [empty(7, "No key yet.")]));
}

async function loadUsage() {
  const form = $("usage-form");
  const query = new URLSearchParams();
  if (form.elements.since.value) query.set("since", form.elements.since.value);
  if (form.elements.account.value) query.set("account", form.elements.account.value);
  const data = (await json(`/v1/admin/usage?${query}`)).data;
  body("usage-table").replaceChildren(...(data.length ? data.slice().reverse().map(rows.usageRow) : [empty(7, "No usage in this period.")]));
  const cost = data.reduce((n, r) => n + r.cost_usd, 0);
  const requests = data.reduce((n, r) => n + r.requests, 0);
  $("usage-total").textContent = `${requests} request${requests === 1 ? "" : "s"}, $${cost.toFixed(4)} in total`;
}

async function loadAudit() {
  const data = (await json("/v1/admin/audit?limit=200")).data;
  body("audit-table").replaceChildren(...(data.length ? data.map(rows.auditRow) : [empty(5, "Nothing yet.")]));
}

// A form's filled fields, numbers as numbers; empty ones are left out.
function fields(form, numbers = []) {
  const out = {};
  for (const [name, value] of new FormData(form)) {
    if (value === "") continue;
    out[name] = numbers.includes(name) ? Number(value) : value;
  }
  return out;
}

function wire() {
  $("account-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const made = await act(() => json("/v1/admin/accounts", { method: "POST", body: fields(event.target) }), loadTeams, loadAccounts, loadAudit);
    if (!made) return;
    $("invite").hidden = false;
    $("invite-email").textContent = made.account.email;
    $("invite-url").value = made.invite_url;
    event.target.reset();
  });
  $("team-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const made = await act(() => json("/v1/admin/teams", { method: "POST", body: fields(event.target, ["budget_day_usd", "budget_month_usd"]) }), loadTeams, loadAccounts, loadAudit);
    if (made) event.target.reset();
  });
  $("key-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const sent = fields(event.target, ["rpm", "tpm", "budget_day_usd", "budget_month_usd"]);
    sent.is_admin = sent.is_admin === "on";
    const made = await act(() => json("/v1/admin/keys", { method: "POST", body: sent }), loadKeys, loadAudit);
    if (!made) return;
    showSecret(made.key);
    event.target.reset();
  });
  $("usage-form").addEventListener("submit", (event) => { event.preventDefault(); act(async () => null, loadUsage); });
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", () => {
      const input = $(button.dataset.copy);
      input.select();
      navigator.clipboard.writeText(input.value).then(() => { button.textContent = "Copied"; }).catch(() => {});
    });
  }
}

async function start() {
  initPage();
  await loadSession();
  try {
    await loadTeams();  // the first call says whether this caller is an admin
  } catch (error) {
    if (error.status === 401) $("admin-signin").hidden = false;
    else if (error.status === 403) $("admin-refused").hidden = false;
    else failed(error);
    document.body.dataset.ready = "true";
    return;
  }
  $("admin-body").hidden = false;
  wire();
  const month = new Date().toISOString().slice(0, 8);
  $("usage-form").elements.since.value = `${month}01`;
  await act(async () => null, loadAccounts, loadKeys, loadUsage, loadAudit);
  document.body.dataset.ready = "true";
}

start().catch(failed);
