// What every page shares: the consent banner and footer link, the theme switch, and the
// header's account link.

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

export function initPage() {
  initTheme();
  initConsent();
}
