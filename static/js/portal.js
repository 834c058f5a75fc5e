// Small behaviours of the portal pages; htmx (vendor/htmx) does the requests.
(() => {
  "use strict";

  const showError = (text) => {
    const message = document.createElement("p");
    message.className = "message message-error";
    message.setAttribute("role", "alert");
    message.textContent = text;
    document.getElementById("messages").append(message);
  };

  const showFailure = (status) => {
    showError(`The portal could not do that (HTTP ${status}). Reload the page to see the current state.`);
  };

  // <button data-copy-target="#id"> copies the text of #id (a secret shown once).
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy-target]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copyTarget);
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = "Copied";
    } catch {
      window.getSelection().selectAllChildren(source);
      button.textContent = "Selected: press Ctrl+C";
    }
  });

  // <select data-autosubmit> submits its form as soon as it changes (the tenant switcher).
  document.addEventListener("change", (event) => {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
  });

  // Never swap a whole page into a fragment. A redirect to a page (the login page after the session expired, the
  // no-tenant page after losing one's last membership) is followed as a page; an error page becomes a message.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    if (!/^\s*<!doctype/i.test(xhr.responseText)) return;
    event.detail.shouldSwap = false;
    if (xhr.status < 400) {
      location.assign(xhr.responseURL);
    } else {
      event.detail.isError = false; // reported here, not again by htmx:responseError
      showFailure(xhr.status);
    }
  });

  // A box that scrolls (a wide table on a phone, a long code sample) takes the keyboard focus, so that it can be
  // scrolled without a mouse too. Checked when the page loads, after each htmx swap and when the window resizes.
  const focusScrollers = () => {
    for (const box of document.querySelectorAll(".overflow-auto, pre")) {
      const scrolls = box.scrollWidth > box.clientWidth || box.scrollHeight > box.clientHeight;
      if (scrolls && !box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
    }
  };
  document.addEventListener("DOMContentLoaded", focusScrollers);
  document.addEventListener("htmx:afterSettle", focusScrollers);
  let resizing;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(focusScrollers, 200);
  });

  // Failures htmx does not swap in (404, 500, network): say so instead of doing nothing.
  document.addEventListener("htmx:responseError", (event) => showFailure(event.detail.xhr.status));
  document.addEventListener("htmx:sendError", () => {
    showError("The portal cannot be reached. Check your connection and try again.");
  });
})();
