// The main menu on narrow screens: folded behind the "Menu" button. Loaded in <head> without defer so that the
// menu is folded before the first paint (the "js" class); without JavaScript it simply stays open.
(() => {
  "use strict";

  document.documentElement.classList.add("js");

  const setOpen = (button, open) => {
    button.setAttribute("aria-expanded", String(open));
    document.getElementById(button.getAttribute("aria-controls")).classList.toggle("open", open);
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-nav-toggle]");
    if (button) setOpen(button, button.getAttribute("aria-expanded") !== "true");
  });

  // Escape folds an open menu and gives the focus back to its button.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const button = document.querySelector("[data-nav-toggle][aria-expanded='true']");
    if (!button) return;
    setOpen(button, false);
    button.focus();
  });
})();
