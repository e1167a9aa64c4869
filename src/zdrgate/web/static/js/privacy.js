// The privacy page: facts from /public/privacy (no sign-in needed) and the storage list.

import { initPage } from "./common.js";
import { keyTable } from "./consent.js";
import { el } from "./dom.js";
import { CATEGORIES } from "./storage_keys.js";

const $ = (id) => document.getElementById(id);

function evidenceLinks(items, attestation) {
  const out = items.map((item) => (/^https?:\/\//.test(item)
    ? el("a", { href: item, rel: "noopener noreferrer", target: "_blank" }, new URL(item).hostname)
    : item));
  if (attestation) out.push(`operator attestation: ${attestation}`);
  return out.flatMap((node, i) => (i ? [el("br"), node] : [node]));
}

async function start() {
  initPage();
  $("storage-tables").append(...CATEGORIES.flatMap((c) => [
    el("h3", {}, `${c.name}${c.always ? " (always on)" : " (optional)"}`),
    el("p", {}, c.summary),
    el("div", { class: "table-wrap", tabindex: "0" }, keyTable(c.id)),
  ]));
  const facts = await (await fetch("/public/privacy")).json();
  $("today").textContent = facts.today;
  $("max-age").textContent = String(facts.max_verification_age_days);
  const op = facts.operator;
  $("operator").textContent = op.name || op.contact
    ? `${facts.site_name} is run by ${op.name || "its operator"}${op.contact ? `; privacy questions: ${op.contact}` : ""}.`
    : `${facts.site_name}'s operator has not published a contact in its configuration.`;
  const rows = facts.subprocessors.map((s) => el("tr", {}, [
    el("td", {}, s.name), el("td", {}, s.regions.join(", ")), el("td", { class: "num" }, String(s.models)),
    el("td", {}, evidenceLinks(s.evidence, s.attestation)), el("td", {}, s.verified_on || "–"),
  ]));
  $("subprocessor-table").querySelector("tbody").replaceChildren(
    ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 5 }, "None: no provider can receive a prompt on this deployment right now."))]),
  );
  document.body.dataset.ready = "true";
}

start();
