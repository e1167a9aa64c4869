// Checking a signed receipt in the browser: the Ed25519 signature against the gateway's
// published key set (/.well-known/jwks.json), and the request and response hashes it
// names against the bytes this page sent and received. The key comes from the same
// gateway, so this proves the receipt is the gateway's and covers this exchange; trusting
// the key itself is a matter of pinning it (docs/proofs.md), not of this page.

let keySet = null;

const text = new TextEncoder();
const b64url = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
const json = (part) => JSON.parse(new TextDecoder().decode(b64url(part)));

export async function sha256(bytes) {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `sha256:${[...hash].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export function claimsOf(token) {
  try {
    return json(token.split(".")[1]);
  } catch {
    return null;
  }
}

async function keys() {
  keySet = keySet || fetch("/.well-known/jwks.json").then((r) => (r.ok ? r.json() : { keys: [] }));
  return (await keySet).keys || [];
}

// -> { ok, claims, problems: [...] }
export async function verifyReceipt(token, requestBytes, responseBytes) {
  const problems = [];
  const [head, body, signature] = token.split(".");
  let claims = null;
  try {
    const header = json(head);
    claims = json(body);
    const jwk = (await keys()).find((k) => k.kid === header.kid);
    if (!jwk) problems.push("signed by a key the gateway does not publish");
    else {
      const key = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x }, { name: "Ed25519" }, false, ["verify"]);
      const valid = await crypto.subtle.verify({ name: "Ed25519" }, key, b64url(signature), text.encode(`${head}.${body}`));
      if (!valid) problems.push("the signature does not match");
    }
    if (requestBytes && claims.req !== (await sha256(requestBytes))) problems.push("it names another request");
    if (responseBytes && claims.res && claims.res !== (await sha256(responseBytes))) problems.push("it names another response");
  } catch (error) {
    problems.push(`it could not be checked (${error.message})`);
  }
  return { ok: problems.length === 0, claims, problems };
}

// The bytes of a stream before its final ": zdr-receipt=" line (what that receipt covers).
export function before(chunks, mark = ": zdr-receipt=") {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) { all.set(c, at); at += c.length; }
  const needle = text.encode(mark);
  outer: for (let i = all.length - needle.length; i >= 0; i -= 1) {
    for (let j = 0; j < needle.length; j += 1) if (all[i + j] !== needle[j]) continue outer;
    return all.subarray(0, i);
  }
  return null;
}
