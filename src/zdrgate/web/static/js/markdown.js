// Model answers are untrusted input: markdown is rendered by marked with raw HTML
// escaped, then the result goes through DOMPurify before it touches the page. Images are kept only as data:
// URLs (no request leaves for another origin), links open in a new tab without referrer.
// Streaming renders incrementally: text up to the last blank line outside a code fence is
// rendered once and frozen; only the tail after it is re-rendered as tokens arrive.

import { Marked } from "/static/vendor/marked/marked.esm.js";
import DOMPurify from "/static/vendor/dompurify/purify.es.mjs";

const escape = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const mathBlock = {
  name: "mathBlock",
  level: "block",
  start: (src) => { const i = src.search(/^(\$\$|\\\[)/m); return i < 0 ? undefined : i; },
  tokenizer(src) {
    const m = /^\$\$([\s\S]+?)\$\$[ \t]*(?:\n|$)/.exec(src) || /^\\\[([\s\S]+?)\\\][ \t]*(?:\n|$)/.exec(src);
    if (m) return { type: "mathBlock", raw: m[0], text: m[1].trim() };
    return undefined;
  },
  renderer: (t) => `<div class="math display" data-tex="${escape(t.text)}">${escape(t.raw.trim())}</div>`,
};

const mathInline = {
  name: "mathInline",
  level: "inline",
  start: (src) => { const i = src.search(/\$|\\\(/); return i < 0 ? undefined : i; },
  tokenizer(src) {
    const m = /^\$\$([^$]+?)\$\$/.exec(src) || /^\\\(([\s\S]+?)\\\)/.exec(src) ||
      /^\$(?![\s$])((?:\\\$|[^$\n])+?)(?<![\s\\])\$(?![\d$])/.exec(src);
    if (m) return { type: "mathInline", raw: m[0], text: m[1], display: m[0].startsWith("$$") };
    return undefined;
  },
  renderer: (t) => `<span class="math${t.display ? " display" : ""}" data-tex="${escape(t.text)}">${escape(t.raw)}</span>`,
};

const marked = new Marked({ gfm: true, async: false, extensions: [mathBlock, mathInline] });

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("rel", "noopener noreferrer nofollow");
    node.setAttribute("target", "_blank");
  }
  if (node.tagName === "IMG" && !/^data:image\//i.test(node.getAttribute("src") || "")) {
    const text = `[image: ${node.getAttribute("alt") || node.getAttribute("src") || ""}]`;
    node.replaceWith(document.createTextNode(text));
  }
});

// Raw HTML in an answer is shown as the text it is, never as markup; the sanitizer
// behind it is the second wall, not the first.
marked.use({ renderer: { html: (token) => escape(token.text) } });

const PURIFY = {
  RETURN_DOM_FRAGMENT: true,
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "option", "iframe", "object", "embed"],
  FORBID_ATTR: ["style"],
  ADD_ATTR: ["data-tex"],
};

function fragment(markdown) {
  const frag = DOMPurify.sanitize(marked.parse(markdown), PURIFY);
  decorateCode(frag);
  return frag;
}

function decorateCode(root) {
  for (const pre of root.querySelectorAll("pre")) {
    const code = pre.querySelector("code");
    const lang = (code?.getAttribute("class") || "").replace(/^language-/, "");
    const bar = document.createElement("div");
    bar.className = "code-bar";
    const label = document.createElement("span");
    label.textContent = lang || "code";
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "copy-code";
    copy.textContent = "Copy";
    copy.setAttribute("aria-label", `Copy ${lang || "code"}`);
    bar.append(label, copy);
    const wrap = document.createElement("div");
    wrap.className = "code-block";
    pre.replaceWith(wrap);
    wrap.append(bar, pre);
  }
  for (const table of root.querySelectorAll("table")) {
    const wrap = document.createElement("div");
    wrap.className = "table-wrap";
    wrap.tabIndex = 0;
    table.replaceWith(wrap);
    wrap.append(table);
  }
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest(".copy-code");
  if (!button) return;
  const code = button.closest(".code-block").querySelector("pre").innerText;
  try {
    await navigator.clipboard.writeText(code);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Copy failed";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
});

let katex = null;

// KaTeX's minified build is half the size of its ES module; it is loaded as a classic
// script from this origin (allowed by the CSP), only when an answer has math.
function loadKatex() {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/static/vendor/katex/katex.min.js";
    script.onload = () => resolve(window.katex);
    script.onerror = () => reject(new Error("KaTeX could not be loaded"));
    document.head.append(script);
  });
}

async function typeset(root) {
  // Claim the nodes before waiting for KaTeX, so two passes never render one node twice.
  const nodes = [...root.querySelectorAll(".math[data-tex]")].map((node) => {
    const tex = node.dataset.tex;
    node.removeAttribute("data-tex");
    return [node, tex];
  });
  if (!nodes.length) return;
  katex = katex || (await loadKatex());
  for (const [node, tex] of nodes) {
    const mathml = katex.renderToString(tex, {
      output: "mathml", displayMode: node.classList.contains("display"), throwOnError: false, trust: false,
    });
    node.replaceChildren(DOMPurify.sanitize(mathml, { RETURN_DOM_FRAGMENT: true, FORBID_ATTR: ["style"] }));
  }
}

// Where the text can be cut: the last blank line that is not inside a code fence or $$.
function boundary(text, from) {
  const cut = text.lastIndexOf("\n\n");
  if (cut <= from) return from;
  const head = text.slice(0, cut);
  const fences = (head.match(/^ {0,3}(```|~~~)/gm) || []).length;
  const dollars = (head.match(/^\$\$/gm) || []).length;
  return fences % 2 === 0 && dollars % 2 === 0 ? cut : from;
}

export class Rendered {
  constructor(container) {
    this.container = container;
    this.stable = document.createElement("div");
    this.tail = document.createElement("div");
    container.replaceChildren(this.stable, this.tail);
    this.done = 0;
    this.text = "";
    this.frame = 0;
  }

  update(text) {
    this.text = text;
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.flush(false); });
  }

  flush(final) {
    const text = this.text;
    const cut = final ? text.length : boundary(text, this.done);
    if (cut > this.done) {
      const part = fragment(text.slice(this.done, cut));
      this.stable.append(part);
      this.done = cut;
      typeset(this.stable);
    }
    this.tail.replaceChildren(cut < text.length ? fragment(text.slice(cut)) : "");
  }

  finish(text) {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.text = text;
    this.flush(true);
    return typeset(this.container);
  }
}

export function renderMarkdown(container, text) {
  return new Rendered(container).finish(text);
}
