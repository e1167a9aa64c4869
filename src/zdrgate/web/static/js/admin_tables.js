// Rows of the admin page's tables, built as DOM (text is always text). Each action is a
// callback given by admin.js; a destructive one (delete, revoke, rotate, sign out
// everywhere) asks again in place ("Confirm: ...").

import { el } from "./dom.js";

export const usd = (n) => (n == null ? "–" : `$${Number(n).toFixed(2)}`);
const day = (iso) => (iso || "").slice(0, 10) || "–";
const pair = (a, b, fmt = (x) => (x == null ? "–" : String(x))) => `${fmt(a)} / ${fmt(b)}`;

export function cells(values) {
  return values.map((v) => (v instanceof Node ? el("td", {}, v) : el("td", {}, v == null ? "–" : String(v))));
}

// A button that asks once more before acting: the second click does it.
export function confirmButton(label, confirmLabel, action) {
  const button = el("button", { type: "button", class: "btn small danger" }, label);
  let armed = false;
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = confirmLabel;
      button.classList.add("armed");
      setTimeout(() => { armed = false; button.textContent = label; button.classList.remove("armed"); }, 6000);
      return;
    }
    button.disabled = true;
    await action();
  });
  return button;
}

export function accountRow(a, actions) {
  const teams = (a.teams || []).map((t) => t.name).join(", ");
  const limits = el("button", { type: "button", class: "btn small", "aria-label": `Limits of ${a.email}` }, "Limits");
  limits.addEventListener("click", actions.limits);
  const signOut = confirmButton("Sign out", `Confirm: sign out ${a.email} everywhere`, actions.signOut);
  signOut.setAttribute("aria-label", `Sign ${a.email} out everywhere`);
  const remove = confirmButton("Delete", `Confirm: delete ${a.email}`, actions.remove);
  remove.setAttribute("aria-label", `Delete account ${a.email}`);
  const row = el("tr", { "data-email": a.email }, cells([
    a.email, a.display_name || "–", a.role, teams || "–", day(a.created_at),
    limitsText(a), el("div", { class: "msg-actions" }, [limits, signOut, remove]),
  ]));
  for (const i of [1, 3, 4]) row.children[i].className = "hide-phone";  // name, teams, created
  row.children[0].className = "break-anywhere";
  return row;
}

export function teamRow(t, actions) {
  const limits = el("button", { type: "button", class: "btn small", "aria-label": `Limits of team ${t.name}` }, "Limits");
  limits.addEventListener("click", actions.limits);
  const remove = confirmButton("Delete", `Confirm: delete ${t.name}`, actions.remove);
  remove.setAttribute("aria-label", `Delete team ${t.name}`);
  return el("tr", { "data-team": t.name }, cells([
    t.name, String((t.members || []).length), pair(t.rpm, t.tpm), pair(t.budget_day_usd, t.budget_month_usd, usd),
    el("div", { class: "msg-actions" }, [limits, remove]),
  ]));
}

export function limitsText(k) {
  const parts = [];
  if (k.rpm != null) parts.push(`${k.rpm} req/min`);
  if (k.tpm != null) parts.push(`${k.tpm} tok/min`);
  if (k.budget_day_usd != null) parts.push(`${usd(k.budget_day_usd)}/day`);
  if (k.budget_month_usd != null) parts.push(`${usd(k.budget_month_usd)}/month`);
  return parts.join(", ") || "none";
}

function keyState(k) {
  if (k.revoked_at) return "revoked";
  if (k.expires_at && new Date(k.expires_at) < new Date()) return "expired";
  return k.is_admin ? "active (admin)" : "active";
}

// The limits editor under a row (a key's, an account's, a team's): four numbers, empty
// lifts the limit. `label` names what it edits, for the form's accessible name.
export function limitsEditor(subject, label, columns, onSave, onCancel) {
  const field = (name, text, step) => {
    const input = el("input", { type: "number", name, min: 0, step });
    if (subject[name] != null) input.value = subject[name];
    return el("label", {}, [text, input]);
  };
  const form = el("form", { class: "filters limits-editor", "aria-label": `Limits of ${label}` }, [
    field("rpm", "Requests / min", "1"), field("tpm", "Tokens / min", "1"),
    field("budget_day_usd", "Budget / day (USD)", "any"), field("budget_month_usd", "Budget / month (USD)", "any"),
    el("button", { type: "submit", class: "btn small primary" }, "Save limits"),
    el("button", { type: "button", class: "btn small", "data-cancel": "" }, "Cancel"),
  ]);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const out = {};
    for (const name of ["rpm", "tpm", "budget_day_usd", "budget_month_usd"]) {
      const value = form.elements[name].value.trim();
      out[name] = value === "" ? null : Number(value);
    }
    onSave(out);
  });
  form.querySelector("[data-cancel]").addEventListener("click", onCancel);
  return el("tr", { class: "model-detail" }, el("td", { colspan: columns }, form));
}

export function keyRow(k, owner, actions) {
  const buttons = el("div", { class: "msg-actions" });
  if (!k.revoked_at) {
    const edit = el("button", { type: "button", class: "btn small", "aria-label": `Limits of key ${k.name || k.id}` }, "Limits");
    edit.addEventListener("click", actions.edit);
    const rotate = confirmButton("Rotate", "Confirm: new secret", actions.rotate);
    rotate.classList.remove("danger");
    rotate.setAttribute("aria-label", `Rotate key ${k.name || k.id}`);
    const revoke = confirmButton("Revoke", "Confirm: revoke", actions.revoke);
    revoke.setAttribute("aria-label", `Revoke key ${k.name || k.id}`);
    buttons.append(edit, rotate, revoke);
  }
  const row = el("tr", { "data-key": k.id }, cells([
    k.name || "(no name)", owner || "operator", el("code", {}, k.id), limitsText(k), k.last_used_day || "never", keyState(k), buttons,
  ]));
  row.children[1].className = "break-anywhere";  // the owner's email
  row.children[2].className = "hide-phone";
  row.children[4].className = "hide-phone";
  return row;
}

export function usageRow(r) {
  const row = el("tr", {}, cells([
    r.day, el("code", {}, r.model), r.requests, `${r.prompt_tokens} / ${r.completion_tokens}`, r.images, r.errors ?? 0, `$${Number(r.cost_usd).toFixed(4)}`,
  ]));
  for (const i of [2, 3, 4, 5, 6]) row.children[i].classList.add("num");
  row.children[4].classList.add("hide-phone");
  row.children[5].classList.add("hide-phone");
  return row;
}

export function auditRow(e) {
  const value = (v) => (v === null ? "none" : typeof v === "object" ? JSON.stringify(v) : String(v));
  const details = Object.entries(e.details || {}).map(([k, v]) => `${k} = ${value(v)}`).join("; ") || "–";
  const row = el("tr", {}, cells([
    (e.at || "").replace("T", " ").slice(0, 19), e.actor, el("code", {}, e.action), e.target || "–", details,
  ]));
  row.children[4].className = "hide-phone details";
  return row;
}
