// The ways an answer can end other than in an answer, each a designed card under the
// message rather than a raw error line: budget used up (402), rate limited (429, with
// a countdown from Retry-After), no routable model (404, with each endpoint's reasons
// in words), the provider failed (5xx), an answer cut mid-stream, an image that failed.
// Offline and an ended session are not cards: the message is not sent, it goes back
// into the composer, and a banner says why (chat.js).

import { call } from "./api.js";
import { announce, el } from "./dom.js";

// A failure as stored with the message (plain data: it survives history and reloads).
export function failureOf(error, model) {
  const text = error.message || "";
  if (error.status === 402) {
    return { kind: "budget", title: "Budget used up", text: error.detail || text, hint: "Your usage is on the Account page; an admin can raise the budget." };
  }
  if (error.status === 429) {
    const wait = Math.max(1, Number.parseInt(error.retryAfter, 10) || 30);
    const said = (error.detail || "").replace(/\s*Try again in \d+\s*s\.?$/, "");
    return { kind: "rate", title: "Too many requests", text: said || "This key may send only so many requests per minute.", until: Date.now() + wait * 1000 };
  }
  if (error.status === 404 && error.code === "no_zdr_endpoint") {
    return { kind: "unroutable", title: "Nothing was sent", text: "No provider that keeps nothing may take this request right now:", detail: error.detail, model };
  }
  if (error.status === 404 && error.code === "model_not_found") {
    return { kind: "unroutable", title: "This model is not offered here", text: error.detail || text };
  }
  if (error.status >= 500) return { kind: "upstream", title: "The provider failed", text };
  return { kind: "refused", title: "The gateway refused this request", text };
}

export function cutFailure(detail) {
  return {
    kind: "cut",
    title: "The answer was cut",
    text: `The provider's stream broke off after the part above (${(detail || "upstream error").replace(/\.+$/, "")}). Nothing of it was kept; retry to ask again.`,
  };
}

export function imageFailure(error) {
  const base = failureOf(error);
  return { ...base, kind: base.kind === "upstream" || base.kind === "refused" ? "image" : base.kind, title: base.kind === "upstream" || base.kind === "refused" ? "The image could not be made" : base.title };
}

const seconds = (until) => Math.max(0, Math.ceil((until - Date.now()) / 1000));

// The endpoints of the model and why each may not be used, from the same decision as
// `zdrgate explain` (GET /v1/models/{id}/endpoints).
async function reasons(list, failure) {
  // Asked once, when the refusal happened, and kept with the message: a redraw (or a
  // reload of the conversation) shows the reasons of that moment, not of today.
  if (!failure.reasons) {
    try {
      const response = await call(`/v1/models/${failure.model.split("/").map(encodeURIComponent).join("/")}/endpoints`);
      if (!response.ok) throw new Error(String(response.status));
      const rows = (await response.json()).data.endpoints.filter((e) => !e.routable);
      failure.reasons = rows.map((e) => [
        `${e.provider_name || e.provider}${e.region ? ` (${e.region})` : ""}`,
        `${e.excluded_because.map((r) => r.message.replace(/\.$/, "")).join("; ")}.`,
      ]);
    } catch {
      failure.reasons = [];
    }
  }
  list.replaceChildren(...(failure.reasons.length
    ? failure.reasons.map(([who, why]) => el("li", {}, [el("strong", {}, who), `: ${why}`]))
    : [el("li", {}, failure.detail || "The gateway gave no reason.")]));
}

function countdown(node, failure, retry) {
  const clock = el("p", { class: "state-clock" });
  let shown = false;  // once on the page; a card redrawn away stops its clock
  const tick = () => {
    const left = seconds(failure.until);
    clock.textContent = left ? `You can send again in ${left} s (at ${new Date(failure.until).toLocaleTimeString()}).` : "You can send again now.";
    if (retry) retry.disabled = left > 0;
    shown ||= node.isConnected;
    if (!left || (shown && !node.isConnected)) {
      clearInterval(timer);
      if (!left && node.isConnected) announce("The rate limit has passed: you can send again.");
    }
  };
  const timer = setInterval(tick, 1000);
  tick();
  return clock;
}

// The card. `actions`: {retry, chooseModel} callbacks, each optional.
export function failureNode(failure, actions = {}) {
  const node = el("div", { class: `state-card ${failure.kind}`, role: "alert" });
  node.append(el("p", { class: "state-title" }, failure.title), el("p", {}, failure.text));
  if (failure.hint) node.append(el("p", { class: "muted" }, failure.hint));
  const buttons = el("div", { class: "msg-actions" });
  let retry = null;
  if (actions.retry && failure.kind !== "budget") {
    retry = el("button", { type: "button", class: "btn small" }, failure.kind === "image" ? "Try the image again" : "Retry");
    retry.addEventListener("click", actions.retry);
    buttons.append(retry);
  }
  if (failure.kind === "rate" && failure.until) node.append(countdown(node, failure, retry));
  if (failure.kind === "unroutable" && failure.model) {
    const list = el("ul", { class: "state-reasons" }, el("li", {}, "Asking the gateway why…"));
    node.append(list);
    reasons(list, failure);
  }
  if (failure.kind === "unroutable" && actions.chooseModel) {
    const choose = el("button", { type: "button", class: "btn small primary" }, "Choose another model");
    choose.addEventListener("click", actions.chooseModel);
    buttons.append(choose);
  }
  if (failure.kind === "budget") buttons.append(el("a", { class: "btn small", href: "/account" }, "See my usage"));
  if (buttons.childElementCount) node.append(buttons);
  return node;
}

// A stand-in where an image should be: the reason and a retry.
export function imagePlaceholder(failure, retry) {
  const box = el("div", { class: "image-failed", role: "img", "aria-label": "Image not made" }, [
    el("span", { class: "image-failed-icon", "aria-hidden": "true" }, "▧"),
    el("span", {}, "No image"),
  ]);
  return el("div", { class: "images" }, el("figure", {}, [box, failureNode(failure, { retry })]));
}
