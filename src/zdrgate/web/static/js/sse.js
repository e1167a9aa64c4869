// Server-sent events over fetch: yields {data, comments} per event. Comments carry the
// gateway's keep-alives and, on streams, the receipt (": x-zdr-endpoint=... ...").

// `raw`, when given, receives every chunk of bytes as read (for receipt hashes).
export async function* events(response, raw = null) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (raw) raw.push(value);
    buffer += decoder.decode(value, { stream: true });
    if (buffer.includes("\r")) buffer = buffer.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      yield parse(block);
    }
  }
  if (buffer.trim()) yield parse(buffer);
}

export function parse(block) {
  const data = [];
  const comments = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) comments.push(line.slice(1).trim());
    else if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
  }
  return { data: data.length ? data.join("\n") : null, comments };
}

// ": x-zdr-endpoint=groq/llama x-zdr-policy=sha256:... x-zdr-verified-on=2026-11-01"
export function receiptFromComment(comment) {
  if (!comment.includes("=") || !/(^|\s)(x-)?zdr-/i.test(comment)) return null;
  const out = {};
  for (const pair of comment.split(/\s+/)) {
    const at = pair.indexOf("=");
    if (at > 0) out[pair.slice(0, at).toLowerCase()] = pair.slice(at + 1);
  }
  return out;
}
