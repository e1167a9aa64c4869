// Conversations on this device only: IndexedDB, each record encrypted with AES-GCM under
// a non-extractable key generated here and kept in the same database. The key cannot be
// read out by script (not even this page's), and it is never sent anywhere. What this
// protects: the files of the browser profile read by another program or copied off the
// machine. What it cannot protect: a script running in this page's origin.

import { HISTORY_DB, allowed } from "./consent.js";

const VERSION = 1;
let opening = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function exists() {
  if (!indexedDB.databases) return true;
  return (await indexedDB.databases()).some((db) => db.name === HISTORY_DB);
}

function open() {
  if (!opening) {
    const req = indexedDB.open(HISTORY_DB, VERSION);
    req.onupgradeneeded = () => {
      req.result.createObjectStore("keys");
      req.result.createObjectStore("conversations", { keyPath: "id" });
    };
    opening = request(req).then((db) => {
      db.onversionchange = () => { db.close(); opening = null; };
      return db;
    });
  }
  return opening;
}

function store(db, name, mode = "readonly") {
  return db.transaction(name, mode).objectStore(name);
}

async function key(db) {
  const found = await request(store(db, "keys").get("main"));
  if (found) return found;
  const made = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  await request(store(db, "keys", "readwrite").put(made, "main"));
  return made;
}

export function enabled() {
  return allowed("history");
}

export async function save(conversation) {
  if (!enabled()) return;
  const db = await open();
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plain = new TextEncoder().encode(JSON.stringify(conversation));
  const data = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await key(db), plain);
  await request(store(db, "conversations", "readwrite").put({ id: conversation.id, iv, data }));
}

export async function list() {
  if (!enabled() || !(await exists())) return [];
  const db = await open();
  const secret = await key(db);
  const rows = await request(store(db, "conversations").getAll());
  const out = [];
  for (const row of rows) {
    try {
      const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: row.iv }, secret, row.data);
      out.push(JSON.parse(new TextDecoder().decode(plain)));
    } catch {
      // a record this key cannot open (the key was replaced): skip it
    }
  }
  return out.sort((a, b) => b.updated - a.updated);
}

export async function remove(id) {
  if (!(await exists())) return;
  const db = await open();
  await request(store(db, "conversations", "readwrite").delete(id));
}

export async function forgetAll() {
  if (opening) (await opening).close();
  opening = null;
  await request(indexedDB.deleteDatabase(HISTORY_DB));
}

export function download(name, text, type = "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
