// Preferences (pinned and recent models, last model, theme): kept in localStorage only
// with consent to preferences; otherwise in this page's memory until it closes.

import { allowed } from "./consent.js";

const MODELS = "zdrgate.models";
let memory = { pinned: [], recent: [], last: null };

export function modelPrefs() {
  if (allowed("preferences")) {
    try {
      return { ...memory, ...JSON.parse(localStorage.getItem(MODELS) || "{}") };
    } catch {
      return memory;
    }
  }
  return memory;
}

export function saveModelPrefs(prefs) {
  memory = prefs;
  if (allowed("preferences")) localStorage.setItem(MODELS, JSON.stringify(prefs));
}

export function useModel(id) {
  const prefs = modelPrefs();
  const recent = [id, ...prefs.recent.filter((r) => r !== id)].slice(0, 5);
  saveModelPrefs({ ...prefs, recent, last: id });
}

export function togglePin(id) {
  const prefs = modelPrefs();
  const pinned = prefs.pinned.includes(id) ? prefs.pinned.filter((p) => p !== id) : [...prefs.pinned, id];
  saveModelPrefs({ ...prefs, pinned });
  return pinned.includes(id);
}
