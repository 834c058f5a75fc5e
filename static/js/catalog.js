// Behaviours of the catalog's publishing pages (no inline script: the Content-Security-Policy forbids it).
(() => {
  "use strict";

  // <form data-confirm="Question?"> asks before it is sent (deprecate, retire, delete a plan).
  document.addEventListener("submit", (event) => {
    const question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // <fieldset data-show-when="kind=prompt"> shows only while the form's `kind` is `prompt` (a radio or a select); a
  // hidden fieldset is disabled too, so that what is not shown is not sent. Without JavaScript everything shows.
  const sync = (form) => {
    form.querySelectorAll("[data-show-when]").forEach((part) => {
      const [name, wanted] = part.dataset.showWhen.split("=");
      const chosen = form.querySelector(`[name="${name}"]:checked`) || form.querySelector(`select[name="${name}"]`);
      const shown = !chosen || chosen.value === wanted;
      part.hidden = !shown;
      if (part.tagName === "FIELDSET") part.disabled = !shown;
    });
  };
  document.querySelectorAll("form").forEach((form) => {
    if (!form.querySelector("[data-show-when]")) return;
    sync(form);
    form.addEventListener("change", () => sync(form));
  });
})();
