// The models page: every model and endpoint from /public/models (no sign-in needed), a
// table with filters and sorting, and per model a chart of retention per endpoint.

import { initPage } from "./common.js";
import { el } from "./dom.js";
import { labels } from "./picker.js";
import { retentionChart, retentionText } from "./chart.js";

const $ = (id) => document.getElementById(id);
let doc = null;
let rows = [];
let sort = { key: "name", dir: 1 };
const open = new Set();

const money = (n) => (n == null ? "–" : `$${+Number(n).toFixed(3)}`);
const policyOf = (endpoint) => doc.policies[endpoint.policy];
const providerName = (id) => doc.providers[id] || id;

function cheapest(model) {
  const zdr = model.endpoints.filter((e) => e.zdr_capable && e.prompt_price != null);
  zdr.sort((a, b) => a.prompt_price - b.prompt_price);
  return zdr[0] || null;
}

function prepare(model) {
  const zdr = model.endpoints.filter((e) => e.zdr_capable);
  const standard = model.endpoints.filter((e) => !e.zdr_capable);
  const best = cheapest(model);
  return {
    model, zdr, standard, best,
    hay: [model.id, model.name, ...model.endpoints.map((e) => e.provider)].join(" ").toLowerCase(),
    providers: new Set(model.endpoints.map((e) => e.provider)),
  };
}

function matches(row) {
  const q = $("q").value.trim().toLowerCase();
  if (q && !q.split(/\s+/).every((t) => row.hay.includes(t))) return false;
  if ($("f-routable").value === "routable" && !row.model.routable) return false;
  const provider = $("f-provider").value;
  if (provider && !row.providers.has(provider)) return false;
  const m = $("f-modality").value;
  const input = row.model.input_modalities;
  const output = row.model.output_modalities;
  if (m === "vision" && !input.includes("image")) return false;
  if (m === "image" && !output.includes("image")) return false;
  if (m === "embeddings" && !output.includes("embeddings")) return false;
  if (m === "text" && (input.includes("image") || !output.includes("text"))) return false;
  return true;
}

const SORTS = {
  name: (r) => (r.model.name || r.model.id).toLowerCase(),
  context: (r) => r.model.context_length || 0,
  price: (r) => (r.best ? r.best.prompt_price : Infinity),
  zdr: (r) => r.zdr.length,
};

function draw() {
  const key = SORTS[sort.key];
  const shown = rows.filter(matches).sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0) * sort.dir);
  $("count").textContent = `${shown.length} of ${rows.length} models`;
  for (const button of document.querySelectorAll("[data-sort]")) {
    const th = button.closest("th");
    if (button.dataset.sort === sort.key) th.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
    else th.removeAttribute("aria-sort");
  }
  const body = $("models-body");
  body.replaceChildren(...shown.flatMap((row) => rowNodes(row)));
}

function rowNodes(row) {
  const m = row.model;
  const expanded = open.has(m.id);
  const toggle = el("button", { type: "button", class: "btn small ghost details", "aria-expanded": String(expanded), "aria-controls": `detail-${m.id}` }, expanded ? "Hide" : "Details");
  toggle.addEventListener("click", () => { if (open.has(m.id)) open.delete(m.id); else open.add(m.id); draw(); });
  const status = m.routable
    ? el("span", { class: "badge zdr" }, "Routable")
    : el("span", { class: "badge off", title: m.reason || "" }, `Not routable: ${m.reason || "no ZDR endpoint"}`);
  const tr = el("tr", { "data-model": m.id }, [
    el("td", {}, [el("strong", {}, m.name || m.id), el("br"), el("code", { class: "muted" }, m.id), el("br"), status, " ", toggle]),
    el("td", { class: "hide-phone" }, labels(m).map((l) => el("span", { class: "cap" }, l))),
    el("td", { class: "num hide-phone" }, m.context_length ? m.context_length.toLocaleString("en") : "–"),
    el("td", { class: "num" }, row.best ? `${money(row.best.prompt_price)} in · ${money(row.best.completion_price)} out` : "–"),
    el("td", {}, row.zdr.length ? `${row.zdr.length}: ${[...new Set(row.zdr.map((e) => providerName(e.provider)))].join(", ")}` : "none"),
    el("td", { class: "hide-phone" }, row.standard.map((e) => el("div", {}, `${providerName(e.provider)}: ${retentionText(policyOf(e))}`))),
  ]);
  if (!expanded) return [tr];
  return [tr, el("tr", { class: "model-detail", id: `detail-${m.id}` }, el("td", { colspan: 6 }, detail(row)))];
}

function detail(row) {
  const endpoints = row.model.endpoints.map((e) => ({ ...e, policy: policyOf(e), provider_name: providerName(e.provider) }));
  const list = el("table", { class: "data endpoints" }, [
    el("caption", { class: "visually-hidden" }, `Endpoints of ${row.model.id}`),
    el("thead", {}, el("tr", {}, ["Endpoint", "Retention", "Training", "ZDR", "Price (1M in / out)", "Evidence", "Verified", "Here"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, endpoints.map((e) => el("tr", {}, [
      el("td", {}, [e.provider_name, e.region ? ` (${e.region})` : "", el("br"), el("code", { class: "muted" }, e.id)]),
      el("td", {}, `${retentionText(e.policy)}${e.zdr_capable && e.policy.retention_days ? " (0 under ZDR)" : ""}`),
      el("td", {}, e.policy.trains_on_data === false ? "no" : e.policy.trains_on_data ? "yes" : "unknown"),
      el("td", {}, (e.policy.zdr || "unknown").replace("_", " ")),
      el("td", { class: "num" }, e.image_price != null && e.prompt_price == null ? `$${e.image_price} / image` : `${money(e.prompt_price)} / ${money(e.completion_price)}`),
      el("td", {}, evidence(e.policy)),
      el("td", {}, e.policy.verified_on || "never"),
      el("td", {}, e.routable ? el("span", { class: "badge zdr" }, "routable") : e.excluded_because.join("; ")),
    ]))),
  ]);
  return el("div", { class: "detail" }, [retentionChart(endpoints), list]);
}

function evidence(policy) {
  const items = [...(policy.evidence || [])];
  if (policy.attestation) items.push(`operator attestation: ${policy.attestation.reference}`);
  if (!items.length) return "none";
  return items.map((item, i) => {
    const link = /^https?:\/\//.test(item)
      ? el("a", { href: item, rel: "noopener noreferrer", target: "_blank" }, new URL(item).hostname)
      : item;
    return i ? [el("br"), link] : link;
  });
}

async function start() {
  initPage();
  const response = await fetch("/public/models");
  doc = await response.json();
  $("catalog-date").textContent = `Decisions as of ${doc.today}; a policy record older than ${doc.max_verification_age_days} days does not count.`;
  rows = doc.models.map(prepare);
  const providers = Object.entries(doc.providers).sort((a, b) => a[1].localeCompare(b[1]));
  $("f-provider").append(...providers.map(([id, name]) => el("option", { value: id }, name)));
  $("filters").addEventListener("input", draw);
  $("filters").addEventListener("submit", (e) => e.preventDefault());
  document.querySelector("#models-table thead").addEventListener("click", (event) => {
    const key = event.target.closest("[data-sort]")?.dataset.sort;
    if (!key) return;
    sort = { key, dir: sort.key === key ? -sort.dir : 1 };
    draw();
  });
  draw();
  document.body.dataset.ready = "true";
}

start();
