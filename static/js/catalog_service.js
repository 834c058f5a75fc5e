// Behaviours of a service's page (no inline script: the Content-Security-Policy forbids it).
(() => {
  "use strict";

  // A form marked data-swap-refusals shows a 404 answer in place (the service is no longer visible to the tenant:
  // the panel says so at the action) instead of the generic failure message.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const form = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (event.detail.xhr.status === 404 && form && form.closest("[data-swap-refusals]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
