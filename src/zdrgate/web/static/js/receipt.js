// The receipt under each answer: which endpoint served it and under which policy record,
// from the response's X-ZDR-* headers (or the stream's receipt comment). Collapsed to one
// line, expandable to the whole record, with a copy button.

import { el } from "./dom.js";

// What the gateway never forwards, whatever the client sends (docs/privacy.md).
export const STRIPPED = [
  "your IP address and cookies",
  "your zdrgate key or session",
  "the user and metadata fields",
  "provider-side storage (store is forced off)",
];

import { claimsOf, verifyReceipt } from "./verify.js";

// Fill the receipt from a signed token's claims and check it (see verify.js).
export async function check(receipt, token, requestBytes, responseBytes) {
  if (!token) return receipt;
  const out = receipt || {};
  const claims = claimsOf(token) || {};
  Object.assign(out, {
    endpoint: claims.endpoint || out.endpoint,
    policy: claims.policy || out.policy,
    verified_on: claims.verified_on || out.verified_on,
    stripped: claims.stripped,
    signature: token,
  });
  const result = await verifyReceipt(token, requestBytes, responseBytes);
  out.signature_verified = result.ok;
  out.signature_problems = result.problems;
  return out;
}

export function fromHeaders(headers) {
  const endpoint = headers.get("x-zdr-endpoint");
  if (!endpoint) return null;
  return {
    endpoint,
    policy: headers.get("x-zdr-policy") || "",
    verified_on: headers.get("x-zdr-verified-on") || "",
    signature: headers.get("zdr-receipt") || null,
  };
}

export function fromComment(fields) {
  if (!fields || !fields["x-zdr-endpoint"]) return null;
  return {
    endpoint: fields["x-zdr-endpoint"],
    policy: fields["x-zdr-policy"] || "",
    verified_on: fields["x-zdr-verified-on"] || "",
    signature: fields["zdr-receipt"] || null,
  };
}

export function providerOf(endpoint) {
  return (endpoint || "").split("/")[0];
}

// Signed receipts are verified against the gateway's published key once it has one;
// until then the line says plainly that the receipt is not signed.
export function signatureLine(receipt) {
  if (receipt.signature_verified === true) return "verified in this browser: signed by this gateway's published key, and it covers this exact request and response";
  if (receipt.signature_verified === false) return `did NOT verify: ${(receipt.signature_problems || []).join("; ")}`;
  if (receipt.signature) return "signed (not checked in this browser)";
  return "not signed by this gateway";
}

function strippedText(receipt) {
  const s = receipt.stripped;
  if (!s) return STRIPPED.join("; ");
  const named = [...(s.headers || []), ...(s.fields || [])];
  return `${named.length ? `from this request: ${named.join(", ")}. ` : ""}Never: ${STRIPPED.join("; ")}`;
}

export function receiptNode(receipt, expectedProvider) {
  if (!receipt) {
    return el("p", { class: "receipt missing" }, "No receipt: the answer did not come through a ZDR endpoint.");
  }
  const provider = providerOf(receipt.endpoint);
  const fallback = expectedProvider && expectedProvider !== provider;
  const summary = [
    `Served by ${provider}`,
    "0 days retention",
    "no training",
    `verified ${receipt.verified_on || "?"}`,
    fallback ? `fallback from ${expectedProvider}` : null,
    receipt.signature_verified ? "receipt ✓" : null,
    receipt.signature_verified === false ? "receipt NOT verified" : null,
  ].filter(Boolean).join(" · ");
  const record = {
    endpoint: receipt.endpoint,
    policy_digest: receipt.policy,
    verified_on: receipt.verified_on,
    retention_days: 0,
    trains_on_data: false,
    signature: receipt.signature,
  };
  const copy = el("button", { type: "button", class: "btn small" }, "Copy receipt");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(JSON.stringify(record, null, 2));
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Copy failed";
    }
  });
  return el("details", { class: "receipt" }, [
    el("summary", {}, [el("img", { src: "/static/icons/lock.svg", alt: "", width: 14, height: 14, class: "inline-icon" }), " ", summary]),
    el("dl", {}, [
      el("dt", {}, "Endpoint"), el("dd", {}, el("code", {}, receipt.endpoint)),
      el("dt", {}, "Policy record"), el("dd", {}, el("code", {}, receipt.policy)),
      el("dt", {}, "Verified on"), el("dd", {}, receipt.verified_on),
      el("dt", {}, "Retention"), el("dd", {}, "0 days, no training (required for routing)"),
      el("dt", {}, "Not forwarded"), el("dd", {}, strippedText(receipt)),
      el("dt", {}, "Signature"), el("dd", {}, signatureLine(receipt)),
      fallback ? el("dt", {}, "Fallback") : "",
      fallback ? el("dd", {}, `${expectedProvider} was expected; ${provider} answered (another ZDR endpoint).`) : "",
    ]),
    el("p", {}, [copy, " ", el("a", { href: "/privacy#receipts" }, "How to check a receipt")]),
  ]);
}
