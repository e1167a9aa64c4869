// Every cookie and browser storage key the web app uses: one list, read by the consent
// banner, the privacy page and (by a test) docs/web.md. Add a key here or not at all.

export const CATEGORIES = [
  {
    id: "necessary",
    name: "Strictly necessary",
    always: true,
    summary: "Keeps you signed in, protects forms against cross-site requests, and remembers this choice.",
  },
  {
    id: "preferences",
    name: "Preferences",
    summary: "Remembers the theme you chose and your pinned and recent models.",
  },
  {
    id: "history",
    name: "Chat history on this device",
    summary: "Saves conversations in this browser, encrypted with a key that never leaves it. Off: every chat is temporary. Turning it off deletes the history stored here.",
  },
];

export const KEYS = [
  {
    name: "zdr_session",
    kind: "cookie (HttpOnly, SameSite=Strict, Secure on HTTPS)",
    category: "necessary",
    purpose: "Your signed-in session; set by the gateway when you sign in.",
    lifetime: "until you sign out or the session expires",
  },
  {
    name: "CSRF token",
    kind: "page memory (not stored)",
    category: "necessary",
    purpose: "Proves that a change (send, delete, sign out) comes from this page.",
    lifetime: "until the tab closes",
  },
  {
    name: "zdrgate.consent",
    kind: "localStorage",
    category: "necessary",
    purpose: "Your answer to this banner, so it is not asked again.",
    lifetime: "12 months, then asked again",
  },
  {
    name: "zdrgate.theme",
    kind: "localStorage",
    category: "preferences",
    purpose: "Light or dark, when you chose one instead of your system's.",
    lifetime: "until you change it, reject preferences or forget everything",
  },
  {
    name: "zdrgate.models",
    kind: "localStorage",
    category: "preferences",
    purpose: "Pinned models, recently used models and the last model you chose.",
    lifetime: "until you reject preferences or forget everything",
  },
  {
    name: "zdrgate-history",
    kind: "IndexedDB database",
    category: "history",
    purpose: "Your conversations, encrypted (AES-GCM) with a non-extractable key kept in the same database.",
    lifetime: "until you delete them, turn history off or forget everything",
  },
];
