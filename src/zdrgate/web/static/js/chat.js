// The chat page. Conversations live in this browser only (history.js); the answer
// streams from /v1/chat/completions through the same policy as any client; images come
// from /v1/images/generations or from chat image output.

import { call, errorOf, loadSession, networkWords } from "./api.js";
import { initPage } from "./common.js";
import { el, announce } from "./dom.js";
import * as history from "./history.js";
import { Rendered, renderMarkdown } from "./markdown.js";
import { ModelPicker } from "./picker.js";
import { check, fromComment, fromHeaders, providerOf, receiptNode } from "./receipt.js";
import { cutFailure, failureNode, failureOf, imageFailure, imagePlaceholder } from "./states.js";
import { before } from "./verify.js";
import { events, receiptFromComment } from "./sse.js";

const $ = (id) => document.getElementById(id);
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

const ui = {
  list: $("conversation-list"),
  messages: $("messages"),
  empty: $("empty-state"),
  input: $("composer-input"),
  form: $("composer"),
  send: $("send"),
  stop: $("stop"),
  system: $("system-prompt"),
  temporary: $("temporary-toggle"),
  attach: $("attach"),
  attachments: $("attachments"),
  warning: $("switch-warning"),
};

let conversation = fresh();
let temporary = false;
let pending = [];
let controller = null;
let picker = null;
let rateUntil = 0;

function fresh() {
  const now = Date.now();
  return { id: crypto.randomUUID(), title: "", created: now, updated: now, system: "", messages: [] };
}

// ---- conversations on this device ----------------------------------------------------

async function refreshList() {
  const items = await history.list();
  ui.list.replaceChildren(
    ...items.map((c) => {
      const open = el("button", { type: "button", class: "conv-open", "aria-current": c.id === conversation.id ? "true" : null }, c.title || "Untitled");
      open.addEventListener("click", () => load(c));
      const remove = el("button", { type: "button", class: "icon-btn conv-delete", "aria-label": `Delete conversation: ${c.title || "Untitled"}` }, "×");
      remove.addEventListener("click", async () => {
        await history.remove(c.id);
        if (c.id === conversation.id) startNew();
        refreshList();
      });
      return el("li", {}, [open, remove]);
    }),
  );
}

function historyNote() {
  const note = $("history-note");
  const on = history.enabled();
  note.textContent = on
    ? "History stays on this device, encrypted; the server keeps none."
    : "History is off (Cookie settings): every chat is temporary and nothing is saved.";
  // With history off every chat is temporary; when it is turned on, chats are saved again.
  if (ui.temporary.disabled !== !on) ui.temporary.checked = !on;
  ui.temporary.disabled = !on;
  setTemporary(ui.temporary.checked);
}

function setTemporary(on) {
  temporary = on;
  document.body.classList.toggle("temporary", on);
  $("temporary-banner").hidden = !on;
}

function load(saved) {
  if (controller) return;
  conversation = saved;
  ui.temporary.checked = false;
  setTemporary(!history.enabled());
  ui.system.value = saved.system || "";
  if (saved.model) picker.select(saved.model);
  modelChanged();
  renderAll();
  refreshList();
  closeSidebar();
}

function startNew() {
  if (controller) controller.abort();
  conversation = fresh();
  ui.system.value = "";
  pending = [];
  renderAttachments();
  renderAll();
  refreshList();
  ui.input.focus();
}

async function persist() {
  conversation.updated = Date.now();
  if (temporary || !history.enabled()) return;
  if (!conversation.messages.length) {  // its only message went back into the box
    await history.remove(conversation.id);
    await refreshList();
    return;
  }
  await history.save(conversation);
  await refreshList();
}

// ---- rendering messages ----------------------------------------------------------------

function renderAll() {
  ui.messages.replaceChildren();
  ui.empty.hidden = conversation.messages.length > 0;
  ui.messages.append(ui.empty);
  conversation.messages.forEach((message, index) => ui.messages.append(messageNode(message, index)));
  ui.messages.scrollTop = ui.messages.scrollHeight;
  updateWarning();
}

function imagesNode(images, downloadable) {
  return el("div", { class: "images" }, images.map((src, i) => {
    const figure = el("figure", {}, el("img", { src, alt: downloadable ? `Generated image ${i + 1}` : `Attached image ${i + 1}` }));
    if (downloadable) {
      const ext = (/^data:image\/(\w+)/.exec(src) || [0, "png"])[1];
      figure.append(el("a", { href: src, download: `zdrgate-image-${i + 1}.${ext}`, class: "btn small" }, "Download"));
    }
    return figure;
  }));
}

function messageNode(message, index) {
  const body = el("div", { class: "msg-body" });
  const node = el("article", { class: `msg ${message.role}`, "data-index": index }, [
    el("h2", { class: "visually-hidden" }, message.role === "user" ? "You said" : "Answer"),
    body,
  ]);
  if (message.role === "user") {
    body.textContent = message.content;
    if (message.images?.length) node.append(imagesNode(message.images, false));
    const edit = el("button", { type: "button", class: "btn small ghost" }, "Edit");
    edit.addEventListener("click", () => editMessage(index, node));
    node.append(el("div", { class: "msg-actions" }, edit));
    return node;
  }
  renderMarkdown(body, message.content || "");
  if (message.images?.length) node.append(imagesNode(message.images, true));
  if (message.error) node.append(el("p", { class: "msg-error", role: "alert" }, message.error));
  const last = index === conversation.messages.length - 1;
  const failure = message.failure;
  if (failure) {
    if (failure.kind === "cut") node.append(el("p", { class: "cut-mark" }, "✂ cut here"));
    const retry = last ? () => (message.prompt != null ? retryImage(message) : regenerate()) : null;
    const chooseModel = () => picker.open();
    node.append(failure.kind === "image" ? imagePlaceholder(failure, retry) : failureNode(failure, { retry, chooseModel }));
  }
  if (message.receipt || !failure) node.append(receiptNode(message.receipt, message.expected));
  const actions = el("div", { class: "msg-actions" });
  if (last && !failure) {
    const again = el("button", { type: "button", class: "btn small ghost" }, message.error ? "Retry" : "Regenerate");
    again.addEventListener("click", regenerate);
    actions.append(again);
  }
  if (message.content) {
    const copy = el("button", { type: "button", class: "btn small ghost" }, "Copy");
    copy.addEventListener("click", () => navigator.clipboard.writeText(message.content).catch(() => {}));
    actions.append(copy);
  }
  if (actions.childElementCount) node.append(actions);
  return node;
}

function editMessage(index, node) {
  if (controller) return;
  const message = conversation.messages[index];
  const area = el("textarea", { class: "edit-area", rows: 3, "aria-label": "Edit your message" });
  area.value = message.content;
  const save = el("button", { type: "button", class: "btn small primary" }, "Save and send");
  const cancel = el("button", { type: "button", class: "btn small" }, "Cancel");
  node.replaceChildren(area, el("div", { class: "msg-actions" }, [save, cancel]));
  area.focus();
  cancel.addEventListener("click", renderAll);
  save.addEventListener("click", () => {
    conversation.messages = conversation.messages.slice(0, index);
    conversation.messages.push({ ...message, content: area.value });
    renderAll();
    answer();
  });
}

// ---- attachments -------------------------------------------------------------------------

function renderAttachments() {
  ui.attachments.replaceChildren(...pending.map((src, i) => {
    const remove = el("button", { type: "button", class: "icon-btn", "aria-label": `Remove image ${i + 1}` }, "×");
    remove.addEventListener("click", () => { pending.splice(i, 1); renderAttachments(); });
    return el("div", { class: "thumb" }, [el("img", { src, alt: `Image ${i + 1} to send` }), remove]);
  }));
}

ui.attach.addEventListener("change", () => {
  for (const file of ui.attach.files) {
    if (file.size > MAX_IMAGE_BYTES) {
      notice(`${file.name} is larger than 5 MB.`);
      continue;
    }
    const reader = new FileReader();
    reader.onload = () => { pending.push(reader.result); renderAttachments(); };
    reader.readAsDataURL(file);
  }
  ui.attach.value = "";
});

// Sent too soon after a 429: the card above already counts down, so it is the card that
// says "not sent" (scrolled into view, marked), not a second countdown in a banner. Only
// when no card is on the page (another conversation) does the banner say it.
function heldByRate() {
  const wait = `wait ${Math.ceil((rateUntil - Date.now()) / 1000)} s`;
  const card = [...ui.messages.querySelectorAll(".state-card.rate")].pop();
  if (!card) {
    notice(`The rate limit has not passed yet: ${wait}, then send. Your message stays here.`);
    return;
  }
  let held = card.querySelector(".state-held");
  if (!held) {
    held = el("p", { class: "state-held" }, "Not sent: your message stays in the box until then.");
    card.querySelector(".state-clock")?.after(held);
  }
  card.classList.remove("nudge");
  void card.offsetWidth;  // restart the highlight
  card.classList.add("nudge");
  card.scrollIntoView({ block: "nearest" });
  announce(`Not sent: the rate limit has not passed yet, ${wait}. Your message stays in the box.`);
}

function notice(text) {
  ui.warning.hidden = false;
  ui.warning.textContent = text;
}

// ---- the switch warning ------------------------------------------------------------------

function lastProvider() {
  for (let i = conversation.messages.length - 1; i >= 0; i -= 1) {
    const r = conversation.messages[i].receipt;
    if (r) return providerOf(r.endpoint);
  }
  return null;
}

function updateWarning() {
  const model = picker?.value;
  const before = lastProvider();
  const next = model?.zdr?.provider;
  if (before && next && before !== next) {
    notice(`This conversation so far went to ${before}. Your next message, with the whole conversation, will go to ${next} (also zero retention).`);
  } else {
    ui.warning.hidden = true;
  }
}

// ---- sending -------------------------------------------------------------------------------

function apiMessages() {
  const out = [];
  const system = ui.system.value.trim();
  if (system) out.push({ role: "system", content: system });
  for (const m of conversation.messages) {
    if (m.error && !m.content) continue;
    if (m.role === "user" && m.images?.length) {
      out.push({ role: "user", content: [{ type: "text", text: m.content }, ...m.images.map((url) => ({ type: "image_url", image_url: { url } }))] });
    } else {
      out.push({ role: m.role, content: m.content || "" });
    }
  }
  return out;
}

const outputs = (model) => model?.architecture?.output_modalities || [];
// Embedding models cannot answer a chat; every other model is listed, routable or not.
const usable = (models) => models.filter((m) => outputs(m).some((o) => o === "text" || o === "image"));
const imageOnly = (model) => outputs(model).includes("image") && !outputs(model).includes("text");

function modelChanged() {
  const model = picker.value;
  ui.input.placeholder = imageOnly(model)
    ? `Describe the image to make with ${model.name || model.id}`
    : "Message (Enter to send, Shift+Enter for a new line)";
  updateWarning();
}

function busy(on) {
  ui.send.hidden = on;
  ui.stop.hidden = !on;
  ui.messages.setAttribute("aria-busy", String(on));
}

async function submit() {
  const text = ui.input.value.trim();
  if (controller || (!text && !pending.length)) return;
  // The states where nothing is sent: the message stays in the box, a banner says why.
  if (!navigator.onLine) { offline(true); return; }
  if (!$("session-banner").hidden && !(await loadSession(true))) { sessionEnded(); return; }
  $("session-banner").hidden = true;
  if (Date.now() < rateUntil) { heldByRate(); return; }
  const model = picker.value;
  if (!model) { notice("No model can be used right now: see Models for why."); return; }
  if (pending.length && !(model.architecture?.input_modalities || []).includes("image")) {
    notice(`${model.name || model.id} does not read images: choose a model labelled Vision.`);
    return;
  }
  if (!conversation.title) conversation.title = text.slice(0, 60) || "Image";
  conversation.system = ui.system.value;
  conversation.model = model.id;
  const sent = { role: "user", content: text, images: pending.length ? pending : undefined };
  conversation.messages.push(sent);
  pending = [];
  renderAttachments();
  ui.input.value = "";
  grow();
  renderAll();
  await (imageOnly(model) ? makeImage(text, sent) : answer(sent));
}

// Not sent after all (offline, the session ended): the message goes back into the box.
function unsend(sent, message) {
  conversation.messages = conversation.messages.filter((m) => m !== message && m !== sent);
  if (sent) {
    if (!ui.input.value.trim()) ui.input.value = sent.content;
    pending = sent.images || [];
    renderAttachments();
    grow();
  }
  if (!conversation.messages.length) conversation.title = "";
  renderAll();
}

// What to do with an error that is not the provider's answer. True when handled.
function notSent(error, sent, message) {
  if (error.name === "AbortError") return false;
  if (error.status === 401) {
    sessionEnded();
  } else if (!error.status) {
    offline(!navigator.onLine);
  } else {
    return false;
  }
  if (sent) unsend(sent, message);
  else message.failure = { kind: "refused", title: "Not sent", text: error.status === 401 ? "Your session has ended." : networkWords(error) };
  return true;
}

function offline(isOffline) {
  const banner = $("offline-banner");
  banner.textContent = isOffline
    ? "You are offline. Nothing was sent; your message stays in the box until the connection is back."
    : "The gateway could not be reached, so nothing was sent. Your message stays in the box: try again in a moment.";
  banner.hidden = false;
  announce(banner.textContent);
}

function sessionEnded() {
  $("session-banner").hidden = false;
  announce("Your session has ended. Nothing was sent; your message stays in the box.");
}

async function afterRefusal(failure) {
  if (failure.kind === "rate") rateUntil = failure.until;
  if (failure.kind !== "unroutable") return;
  // What the page listed as routable is not any more: list the models afresh.
  const response = await fetch("/v1/models", { credentials: "same-origin" }).catch(() => null);
  if (response?.ok) picker.refresh(usable((await response.json()).data));
}

function retryImage(message) {
  if (controller) return;
  conversation.messages = conversation.messages.filter((m) => m !== message);
  renderAll();
  makeImage(message.prompt);
}

function regenerate() {
  if (controller) return;
  const last = conversation.messages[conversation.messages.length - 1];
  if (last?.role === "assistant") conversation.messages.pop();
  renderAll();
  answer();
}

function placeholder(model) {
  const message = { role: "assistant", content: "", model: model.id, expected: model.zdr?.provider };
  conversation.messages.push(message);
  ui.empty.hidden = true;
  const node = messageNode(message, conversation.messages.length - 1);
  const status = el("p", { class: "waiting" }, `Waiting for ${model.zdr?.provider || "the provider"}…`);
  node.querySelector(".msg-body").after(status);
  ui.messages.append(node);
  node.scrollIntoView({ block: "end" });
  return { message, node };
}

async function answer(sent = null) {
  const model = picker.value;
  const request = { model: model.id, messages: apiMessages(), stream: true };
  const { message, node } = placeholder(model);
  if (outputs(model).includes("image")) request.modalities = ["image", "text"];
  const payload = JSON.stringify(request);
  const raw = [];
  let token = null;
  controller = new AbortController();
  busy(true);
  announce("Answer started.");
  let view = null;
  try {
    const response = await call("/v1/chat/completions", { method: "POST", body: payload, signal: controller.signal });
    if (!response.ok) throw await errorOf(response);
    message.receipt = fromHeaders(response.headers);
    const body = node.querySelector(".msg-body");
    for await (const event of events(response, raw)) {
      for (const comment of event.comments) {
        const fields = receiptFromComment(comment);
        if (fields?.["zdr-receipt"]) token = fields["zdr-receipt"];
        message.receipt = message.receipt || fromComment(fields);
      }
      if (event.data === null) continue;
      if (event.data === "[DONE]") break;
      const chunk = JSON.parse(event.data);
      if (chunk.error) { message.failure = cutFailure(chunk.error.message); continue; }
      const delta = chunk.choices?.[0]?.delta || {};
      if (delta.content) {
        if (!view) { node.querySelector(".waiting")?.remove(); view = new Rendered(body); }
        message.content += delta.content;
        const atEnd = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 80;
        view.update(message.content);
        if (atEnd) requestAnimationFrame(() => { ui.messages.scrollTop = ui.messages.scrollHeight; });
      }
      for (const image of delta.images || []) (message.images ||= []).push(image.image_url?.url || image.url);
    }
    if (token) message.receipt = await check(message.receipt, token, new TextEncoder().encode(payload), before(raw));
    announce(message.failure ? "The answer was cut." : "Answer finished.");
  } catch (error) {
    failed(error, message, sent, () => failureOf(error, model.id));
  } finally {
    controller = null;
    busy(false);
  }
  if (!message.content && !message.images && !message.error && !message.failure) message.error = "The provider sent an empty answer.";
  renderAll();
  await persist();
}

function failed(error, message, sent, failure) {
  if (error.name === "AbortError") {
    message.stopped = true;
    message.error = message.content ? "Stopped." : "Stopped before any answer.";
    announce("Answer stopped.");
    return;
  }
  if (message.content && !error.status) {
    message.failure = cutFailure(networkWords(error));  // the connection broke mid-answer
  } else {
    if (notSent(error, sent, message)) return;
    message.failure = failure();
    afterRefusal(message.failure);
  }
  announce(`${message.failure.title}.`);
}

async function makeImage(prompt, sent = null) {
  const model = picker.value;
  const { message } = placeholder(model);
  message.prompt = prompt;
  controller = new AbortController();
  busy(true);
  announce("Image started.");
  try {
    const payload = JSON.stringify({ model: model.id, prompt, n: 1, response_format: "b64_json" });
    const response = await call("/v1/images/generations", { method: "POST", signal: controller.signal, body: payload });
    if (!response.ok) throw await errorOf(response);
    const bytes = new Uint8Array(await response.arrayBuffer());
    message.receipt = await check(fromHeaders(response.headers), response.headers.get("zdr-receipt"), new TextEncoder().encode(payload), bytes);
    const data = JSON.parse(new TextDecoder().decode(bytes)).data || [];
    message.images = data.map((d) => `data:image/png;base64,${d.b64_json}`);
    message.content = data[0]?.revised_prompt ? `*${data[0].revised_prompt}*` : "";
    announce("Image finished.");
  } catch (error) {
    failed(error, message, sent, () => imageFailure(error));
  } finally {
    controller = null;
    busy(false);
  }
  renderAll();
  await persist();
}

// ---- the composer and the keyboard ----------------------------------------------------------

function grow() {
  ui.input.style.height = "auto";
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 240)}px`;
}

ui.form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
ui.input.addEventListener("input", grow);
ui.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submit();
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && controller) { event.preventDefault(); controller.abort(); }
});
ui.stop.addEventListener("click", () => controller?.abort());
$("new-chat").addEventListener("click", startNew);
ui.temporary.addEventListener("change", () => { startNew(); setTemporary(ui.temporary.checked); });
ui.messages.addEventListener("click", (event) => {
  const example = event.target.closest(".example");
  if (example) { ui.input.value = example.textContent; grow(); ui.input.focus(); }
});
$("export-history").addEventListener("click", async () => {
  const items = await history.list();
  const stamp = new Date().toISOString().slice(0, 10);
  history.download(`zdrgate-conversations-${stamp}.json`, JSON.stringify({ exported_at: new Date().toISOString(), conversations: items }, null, 2));
});
$("forget-everything").addEventListener("click", async () => {
  if (!window.confirm("Delete every conversation and the encryption key stored in this browser? This cannot be undone.")) return;
  await history.forgetAll();
  ["zdrgate.models", "zdrgate.theme"].forEach((k) => localStorage.removeItem(k));
  startNew();
  announce("Everything on this device was forgotten.");
});

function closeSidebar() {
  document.body.classList.remove("sidebar-open");
  $("toggle-sidebar").setAttribute("aria-expanded", "false");
}
$("toggle-sidebar").addEventListener("click", () => {
  const open = document.body.classList.toggle("sidebar-open");
  $("toggle-sidebar").setAttribute("aria-expanded", String(open));
});

window.addEventListener("zdr-consent", () => { historyNote(); refreshList(); });
window.addEventListener("offline", () => offline(true));
window.addEventListener("online", () => {
  $("offline-banner").hidden = true;
  announce("You are back online.");
});

// ---- start ------------------------------------------------------------------------------------

async function start() {
  initPage();
  picker = new ModelPicker($("picker"), { onChange: modelChanged });
  historyNote();
  refreshList();
  const [, response] = await Promise.all([
    loadSession(),
    fetch("/v1/models", { credentials: "same-origin" }).catch(() => null),
  ]);
  if (!response || !response.ok) {
    if (response?.status === 401) {
      $("signin-banner").hidden = false;
      ui.form.hidden = true;
    } else {
      notice(response ? (await errorOf(response)).message : networkWords());
    }
    picker.button.textContent = "Models unavailable";
    return;
  }
  picker.setModels(usable((await response.json()).data));
  if (!navigator.onLine) offline(true);
  modelChanged();
  document.body.dataset.ready = "true";
  performance.mark("zdr-ready");  // bench/web.py: time to interactive
}

start();
