// The consent record and the banner. Nothing non-essential is stored before a choice:
// preferences and history ask `allowed(category)` before every write.

import { CATEGORIES, KEYS } from "./storage_keys.js";
import { el, clear } from "./dom.js";

const RECORD = "zdrgate.consent";
const VERSION = 1;
const MAX_AGE_DAYS = 365;
const PREFERENCE_KEYS = KEYS.filter((k) => k.category === "preferences").map((k) => k.name);
export const HISTORY_DB = "zdrgate-history";

export function choice() {
  try {
    const record = JSON.parse(localStorage.getItem(RECORD) || "null");
    if (!record || record.version !== VERSION) return null;
    const age = (Date.now() - Date.parse(record.decided_at)) / 86400000;
    return age <= MAX_AGE_DAYS ? record : null;
  } catch {
    return null;
  }
}

export function allowed(category) {
  const record = choice();
  return Boolean(record && record[category]);
}

function save(preferences, history) {
  const record = { version: VERSION, preferences, history, decided_at: new Date().toISOString() };
  localStorage.setItem(RECORD, JSON.stringify(record));
  if (!preferences) PREFERENCE_KEYS.forEach((key) => localStorage.removeItem(key));
  if (!history) indexedDB.deleteDatabase(HISTORY_DB);
  window.dispatchEvent(new CustomEvent("zdr-consent", { detail: record }));
  closeBanner();
}

let sheet = null;

function closeBanner() {
  if (sheet) sheet.remove();
  sheet = null;
}

export function openBanner(customize = false) {
  closeBanner();
  sheet = el("section", { class: "consent", role: "dialog", "aria-labelledby": "consent-title" }, [
    el("h2", { id: "consent-title" }, "Cookies and storage on this device"),
    el("p", {}, "This site stores only what it needs to work. With your consent it also keeps preferences and your chat history in this browser. There are no analytics and no third parties."),
    el("div", { class: "consent-buttons" }, [
      el("button", { type: "button", class: "btn consent-btn", "data-consent": "accept" }, "Accept all"),
      el("button", { type: "button", class: "btn consent-btn", "data-consent": "reject" }, "Reject non-essential"),
      el("button", { type: "button", class: "btn consent-btn", "data-consent": "customize", "aria-expanded": String(customize) }, "Customize"),
    ]),
  ]);
  sheet.addEventListener("click", (event) => {
    const action = event.target.closest("[data-consent]")?.dataset.consent;
    if (action === "accept") save(true, true);
    if (action === "reject") save(false, false);
    if (action === "customize") showDetails();
  });
  document.body.append(sheet);
  if (customize) showDetails();
  sheet.querySelector("button").focus();
}

function showDetails() {
  if (sheet.querySelector(".consent-details")) return;
  sheet.querySelector('[data-consent="customize"]').setAttribute("aria-expanded", "true");
  const current = choice() || { preferences: false, history: false };
  const form = el("form", { class: "consent-details" });
  for (const category of CATEGORIES) {
    const id = `consent-${category.id}`;
    const box = el("input", { type: "checkbox", id, name: category.id });
    box.checked = category.always || Boolean(current[category.id]);
    box.disabled = Boolean(category.always);
    form.append(
      el("fieldset", { class: "consent-category" }, [
        el("legend", {}, [el("label", { for: id }, [box, " ", category.name, category.always ? " (always on)" : ""])]),
        el("p", {}, category.summary),
        keyTable(category.id),
      ]),
    );
  }
  form.append(el("button", { type: "submit", class: "btn primary" }, "Save my choices"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save(form.elements.preferences.checked, form.elements.history.checked);
  });
  sheet.append(form);
}

export function keyTable(category) {
  const rows = KEYS.filter((k) => k.category === category).map((k) =>
    el("tr", {}, [el("td", {}, el("code", {}, k.name)), el("td", {}, k.kind), el("td", {}, k.purpose), el("td", {}, k.lifetime)]),
  );
  return el("table", { class: "keys" }, [
    el("thead", {}, el("tr", {}, ["Name", "Where", "Purpose", "Lifetime"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows),
  ]);
}

export function initConsent() {
  if (!choice()) openBanner();
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-cookie-settings]")) openBanner(true);
  });
}

export { clear };
