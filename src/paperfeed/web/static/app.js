// paperfeed's only script: small enhancements; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
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
