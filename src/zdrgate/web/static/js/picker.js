// The model picker: a WAI-ARIA combobox over hundreds of models. Type-ahead over id,
// name, author and capability labels; pinned and recent first; grouped by author; only
// the visible rows are in the DOM (virtualized), so a keystroke filters and redraws in a
// few milliseconds. Models that no endpoint may serve stay listed, greyed, with the
// reason from the gateway's policy decision, and cannot be chosen.

import { el } from "./dom.js";
import { modelPrefs, togglePin, useModel } from "./prefs.js";

const ROW = 60;
const HEAD = 30;
const OVERSCAN = 6;

export function labels(model) {
  const out = [];
  const input = model.architecture?.input_modalities || model.input_modalities || [];
  const output = model.architecture?.output_modalities || model.output_modalities || [];
  const caps = model.capabilities || [];
  if (input.includes("image")) out.push("Vision");
  if (output.includes("image")) out.push("Images");
  if (caps.includes("tools")) out.push("Tools");
  if (caps.includes("reasoning")) out.push("Reasoning");
  if (model.context_length) out.push(`${contextLabel(model.context_length)} context`);
  return out;
}

function contextLabel(tokens) {
  return tokens >= 1000000 ? `${+(tokens / 1000000).toFixed(1)}M` : `${Math.round(tokens / 1000)}k`;
}

export function priceLabel(model) {
  const p = model.pricing;
  if (!p) return "";
  if (p.image && !p.prompt_per_million) return `$${p.image} / image`;
  if (p.prompt_per_million == null) return "";
  const fmt = (n) => `$${+Number(n).toFixed(2)}`;
  return `${fmt(p.prompt_per_million)} in · ${fmt(p.completion_per_million ?? 0)} out per 1M tokens`;
}

export class ModelPicker {
  constructor(root, { onChange }) {
    this.root = root;
    this.onChange = onChange;
    this.models = [];
    this.rows = [];
    this.offsets = [];
    this.active = -1;
    this.value = null;
    this.build();
  }

  build() {
    this.button = el("button", { type: "button", class: "model-button", "aria-haspopup": "dialog", "aria-expanded": "false" }, "Loading models…");
    this.input = el("input", {
      type: "text", role: "combobox", "aria-expanded": "true", "aria-controls": "model-list",
      "aria-autocomplete": "list", "aria-label": "Search models", placeholder: "Search by name, author or capability",
      spellcheck: "false", autocomplete: "off",
    });
    this.list = el("div", { id: "model-list", role: "listbox", "aria-label": "Models", class: "model-list", tabindex: "-1" });
    this.spacer = el("div", { class: "model-spacer", role: "presentation" });
    this.list.append(this.spacer);
    this.status = el("p", { class: "picker-status", role: "status" });
    this.pin = el("button", { type: "button", class: "btn small" }, "Pin");
    this.count = el("span", { class: "muted" });
    this.pop = el("div", { class: "picker-pop", role: "dialog", "aria-label": "Choose a model", hidden: true }, [
      this.input, this.list, this.status, el("div", { class: "picker-foot" }, [this.count, this.pin]),
    ]);
    this.root.append(this.button, this.pop);
    this.button.addEventListener("click", () => (this.pop.hidden ? this.open() : this.close()));
    this.input.addEventListener("input", () => this.filter());
    this.input.addEventListener("keydown", (e) => this.key(e));
    this.list.addEventListener("scroll", () => this.draw());
    this.list.addEventListener("mousedown", (e) => e.preventDefault());
    this.list.addEventListener("click", (e) => {
      const option = e.target.closest("[role=option]");
      if (option) this.choose(Number(option.dataset.row));
    });
    this.pin.addEventListener("click", () => {
      const row = this.rows[this.active];
      if (row?.model) { togglePin(row.model.id); this.filter(); }
    });
    document.addEventListener("mousedown", (e) => { if (!this.root.contains(e.target)) this.close(); });
  }

  setModels(models) {
    this.models = models.map((m) => ({
      ...m,
      author: m.owned_by || m.author || m.id.split("/")[0],
      labels: labels(m),
      lname: (m.name || "").toLowerCase(),
      hay: [m.id, m.name, m.owned_by, ...labels(m)].join(" ").toLowerCase(),
    }));
    this.byId = new Map(this.models.map((m) => [m.id, m]));
    this.found = null;
    const prefs = modelPrefs();
    const first = [prefs.last, ...prefs.pinned, ...prefs.recent].map((id) => this.byId.get(id)).find((m) => m?.zdr?.routable)
      || this.models.find((m) => m.zdr?.routable);
    this.value = first || null;
    this.paintButton();
  }

  // A new list (routability changed): keep the chosen model if it may still be used.
  refresh(models) {
    const kept = this.value?.id;
    this.setModels(models);
    if (kept && this.byId.get(kept)?.zdr?.routable) this.select(kept);
    if (!this.pop.hidden) this.filter();
  }

  model(id) {
    return this.byId?.get(id);
  }

  select(id) {
    const model = this.byId?.get(id);
    if (model && model.zdr?.routable) {
      this.value = model;
      this.paintButton();
    }
  }

  paintButton() {
    const m = this.value;
    this.button.replaceChildren(
      el("span", { class: "visually-hidden" }, "Model: "),
      m ? el("span", { class: "model-name" }, m.name || m.id) : "No model available",
      m ? el("span", { class: "badge zdr" }, "ZDR") : "",
      el("span", { "aria-hidden": "true", class: "caret" }, "▾"),
    );
  }

  open() {
    this.pop.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.input.value = "";
    this.status.textContent = "";
    this.filter();
    this.input.focus();
  }

  close() {
    if (this.pop.hidden) return;
    this.pop.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
  }

  filter() {
    const query = this.input.value.toLowerCase();
    const terms = query.split(/\s+/).filter(Boolean);
    // Typing on narrows what the last keystroke found: a longer query only removes rows.
    const narrowing = this.found && this.query && query.startsWith(this.query);
    const pool = narrowing ? this.found : this.models;
    const found = terms.length ? pool.filter((m) => terms.every((t) => m.hay.includes(t))) : this.models;
    this.query = query;
    this.found = found;
    this.rows = terms.length ? this.grouped(found, terms[0]) : this.sections(found);
    this.offsets = new Array(this.rows.length);
    let y = 0;
    this.total = 0;
    this.rows.forEach((row, i) => {
      this.offsets[i] = y;
      y += row.model ? ROW : HEAD;
      if (row.model) this.total += 1;
    });
    this.spacer.style.height = `${y}px`;
    this.list.scrollTop = 0;
    this.active = this.rows.findIndex((r) => r.model);
    const n = found.length;
    this.count.textContent = `${n} model${n === 1 ? "" : "s"}`;
    this.status.textContent = n ? "" : "No model matches.";
    this.draw();
  }

  sections(models) {
    const prefs = modelPrefs();
    const pick = (ids) => ids.map((id) => this.byId.get(id)).filter(Boolean);
    const rows = [];
    const add = (label, list) => {
      if (!list.length) return;
      rows.push({ label });
      list.forEach((model) => rows.push({ model }));
    };
    add("Pinned", pick(prefs.pinned));
    add("Recent", pick(prefs.recent).filter((m) => !prefs.pinned.includes(m.id)));
    return rows.concat(this.grouped(models, ""));
  }

  grouped(models, term) {
    // Scores computed once per model (not in the comparator): a keystroke stays cheap.
    const scored = models.map((m) => [
      (m.zdr?.routable ? 0 : 4) + (m.id.startsWith(term) || m.author.startsWith(term) ? 0 : 1)
        + (m.lname.includes(term) ? 0 : 1),
      m.id,
      m,
    ]);
    scored.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    const groups = new Map();
    for (const [, , m] of scored) {
      let list = groups.get(m.author);
      if (!list) groups.set(m.author, (list = []));
      list.push(m);
    }
    const rows = [];
    for (const [author, list] of groups) {
      rows.push({ label: author });
      for (const model of list) rows.push({ model });
    }
    return rows;
  }

  draw() {
    const top = this.list.scrollTop;
    const height = this.list.clientHeight || 360;
    let first = this.lowerBound(top) - OVERSCAN;
    first = Math.max(0, first);
    const last = Math.min(this.rows.length, this.lowerBound(top + height) + OVERSCAN);
    const nodes = [];
    for (let i = first; i < last; i += 1) nodes.push(this.rowNode(i, this.total));
    this.spacer.replaceChildren(...nodes);
    const active = this.rows[this.active];
    if (active?.model) {
      this.input.setAttribute("aria-activedescendant", `model-opt-${this.active}`);
      const pinned = modelPrefs().pinned.includes(active.model.id);
      this.pin.textContent = `${pinned ? "Unpin" : "Pin"} ${active.model.name || active.model.id}`;
      this.pin.hidden = false;
    } else {
      this.input.removeAttribute("aria-activedescendant");
      this.pin.hidden = true;
    }
  }

  lowerBound(y) {
    let lo = 0;
    let hi = this.offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.offsets[mid] < y) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  rowNode(i, total) {
    const row = this.rows[i];
    const top = `${this.offsets[i]}px`;
    if (!row.model) {
      const head = el("div", { class: "model-group", role: "presentation" }, row.label);
      head.style.top = top;
      return head;
    }
    const m = row.model;
    const ok = m.zdr?.routable;
    const node = el("div", {
      id: `model-opt-${i}`, role: "option", class: `model-row${i === this.active ? " active" : ""}${ok ? "" : " unavailable"}`,
      "aria-selected": String(this.value?.id === m.id), "aria-disabled": ok ? null : "true",
      "data-row": i, "data-model": m.id, "aria-setsize": total,
    }, [
      el("div", { class: "model-line" }, [
        el("span", { class: "model-name" }, m.name || m.id),
        el("span", { class: "model-price" }, ok ? priceLabel(m) : ""),
      ]),
      el("div", { class: "model-line small" }, [
        ok ? el("span", { class: "badge zdr" }, `ZDR · verified ${m.zdr.verified_on || "?"}`)
          : el("span", { class: "badge off" }, `Unavailable: ${m.zdr?.reason || "not routable"}`),
        ...m.labels.map((l) => el("span", { class: "cap" }, l)),
        el("span", { class: "model-id" }, m.id),
      ]),
    ]);
    node.style.top = top;
    return node;
  }

  move(step) {
    let i = this.active;
    do { i += step; } while (i >= 0 && i < this.rows.length && !this.rows[i].model);
    if (i < 0 || i >= this.rows.length) return;
    this.active = i;
    const y = this.offsets[i];
    if (y < this.list.scrollTop) this.list.scrollTop = y - HEAD;
    else if (y + ROW > this.list.scrollTop + this.list.clientHeight) this.list.scrollTop = y + ROW - this.list.clientHeight;
    this.draw();
  }

  key(event) {
    const keys = {
      ArrowDown: () => this.move(1),
      ArrowUp: () => this.move(-1),
      PageDown: () => this.move(6),
      PageUp: () => this.move(-6),
      Enter: () => this.choose(this.active),
      Escape: () => { this.close(); this.button.focus(); },
    };
    const action = keys[event.key];
    if (!action) return;
    event.preventDefault();
    event.stopPropagation();
    action();
  }

  choose(i) {
    const model = this.rows[i]?.model;
    if (!model) return;
    this.active = i;
    if (!model.zdr?.routable) {
      this.status.textContent = `${model.name || model.id} can't be used: ${model.zdr?.reason || "no endpoint may receive a prompt"}.`;
      this.draw();
      return;
    }
    this.value = model;
    useModel(model.id);
    this.paintButton();
    this.close();
    this.button.focus();
    this.onChange(model);
  }
}
