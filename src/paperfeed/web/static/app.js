// paperfeed's only script: small enhancements; every page works without it.
"use strict";

// Math in titles, abstracts and teasers: $…$, $$…$$, \(…\) and \[…\] become KaTeX (vendored, static/vendor/katex).
// A single $ follows pandoc's rule (a non-space right after the opening $, a non-space right before the closing
// one, no digit right after it), so prices in news ("$5 to $10", "$1.5 trillion and $200") stay text.
const MATH_PLACES = "h1, .title, .abstract, .teaser, .tldr, .snippet, [data-math]";
const MATH = /\$\$([^$]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(([\s\S]+?)\\\)|\$(?=\S)([^$\n]*?\S)\$(?!\d)/g;

function renderMath(root) {
  if (!window.katex) return;  // the vendored script did not load: the TeX stays as written
  for (const place of root.querySelectorAll(MATH_PLACES)) {
    const walker = document.createTreeWalker(place, NodeFilter.SHOW_TEXT, {
      acceptNode: (node) => node.parentElement.closest("code, pre, textarea, script, style, .katex")
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
    });
    const texts = [];
    while (walker.nextNode()) if (/[$\\]/.test(walker.currentNode.data)) texts.push(walker.currentNode);
    for (const text of texts) renderText(text);
  }
}

function renderText(text) {
  const source = text.data;
  const parts = document.createDocumentFragment();
  let last = 0;
  let changed = false;
  for (const match of source.matchAll(MATH)) {
    const display = match[1] !== undefined || match[2] !== undefined;
    const tex = match[1] ?? match[2] ?? match[3] ?? match[4];
    const holder = document.createElement("span");
    try {
      // katex.render builds DOM nodes (styles set through CSSOM), which the style-src 'self' CSP allows;
      // renderToString's style attributes would be refused.
      window.katex.render(tex, holder, { displayMode: display, throwOnError: true, output: "htmlAndMathml" });
    } catch (error) {
      continue;  // not TeX after all: leave the characters as they are
    }
    parts.append(source.slice(last, match.index), holder);
    last = match.index + match[0].length;
    changed = true;
  }
  if (!changed) return;
  parts.append(source.slice(last));
  text.replaceWith(parts);
}

document.addEventListener("DOMContentLoaded", () => {
  renderMath(document);
  // "Copy BibTeX": shown only when the clipboard API is there to make it work.
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(source.textContent);
        button.textContent = "Copied";
      } catch (error) {
        button.textContent = "Copy failed: select the text instead";
      }
    });
  }
});
