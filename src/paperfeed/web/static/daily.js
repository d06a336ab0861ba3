// Daily Papers keyboard navigation: j / k move between paper cards, o opens the current one.
// Progressive: without this script every card is a plain link list that works as it is.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const cards = Array.from(document.querySelectorAll("[data-cards] [data-card]"));
  if (!cards.length) return;
  const hint = document.querySelector(".keys-hint");
  if (hint) hint.hidden = false;
  let current = -1;

  const linkOf = (card) => card.querySelector("a[data-open]");
  const select = (index) => {
    current = Math.max(0, Math.min(cards.length - 1, index));
    for (const card of cards) card.classList.remove("is-current");
    const card = cards[current];
    card.classList.add("is-current");
    const link = linkOf(card);
    if (link) link.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest", behavior: "auto" });
  };
  // Focus that moves by mouse or Tab moves the current card with it.
  document.addEventListener("focusin", (event) => {
    const index = cards.findIndex((card) => card.contains(event.target));
    if (index >= 0) current = index;
  });

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    if (target instanceof HTMLElement && (target.isContentEditable ||
        ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;  // typing, not navigating
    if (event.key === "j") {
      select(current + 1);
    } else if (event.key === "k") {
      select(current < 0 ? 0 : current - 1);
    } else if (event.key === "o" && current >= 0) {
      const link = linkOf(cards[current]);
      if (link) window.location.assign(link.href);
    } else {
      return;
    }
    event.preventDefault();
  });
});
