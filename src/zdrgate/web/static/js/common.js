// What every page shares: the consent banner and footer link, the theme switch, and the
// header's account link.

import { loadSession } from "./api.js";
import { initConsent, allowed } from "./consent.js";
import { el } from "./dom.js";

const THEME = "zdrgate.theme";
let theme = null;

function applyTheme(value) {
  theme = value;
  if (value) document.documentElement.dataset.theme = value;
  else delete document.documentElement.dataset.theme;
  const button = document.getElementById("theme-switch");
  if (button) button.textContent = `Theme: ${value || "system"}`;
}

function initTheme() {
  if (allowed("preferences")) applyTheme(localStorage.getItem(THEME));
  const footer = document.querySelector("footer.bottom");
  if (!footer) return;
  const button = el("button", { type: "button", class: "linkish", id: "theme-switch" }, "Theme: system");
  footer.append(button);
  applyTheme(theme);
  button.addEventListener("click", () => {
    const next = { null: "light", light: "dark", dark: null }[String(theme)];
    applyTheme(next);
    if (allowed("preferences")) {
      if (next) localStorage.setItem(THEME, next);
      else localStorage.removeItem(THEME);
    }
  });
}

// An admin's session sees the admin pages' link; nobody else does (the admin API would
// refuse them anyway).
async function adminLink() {
  const nav = document.querySelector("header.top nav");
  if (!nav || !(await loadSession())?.admin) return;
  const link = el("a", { href: "/admin", id: "nav-admin" }, "Admin");
  if (location.pathname === "/admin") link.setAttribute("aria-current", "page");
  nav.append(link);
}

export function initPage() {
  initTheme();
  initConsent();
  adminLink();
}
