// The prompt playground (templates/prompts/playground.html): runs one or two versions on the same variables and
// shows each answer as it streams in (server-sent events read from a same-origin POST on the person's session).
(() => {
  "use strict";

  const form = document.getElementById("playground");
  if (!form) return;
  const errorBox = document.getElementById("playground-error");
  const button = document.getElementById("run-button");
  const versionA = document.getElementById("version-a");
  const versionB = document.getElementById("version-b");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  const showError = (text) => {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  };

  // The form's fields come from the chosen version's variables schema: choosing another version shows its own.
  versionA.addEventListener("change", () => {
    const url = new URL(form.dataset.pageUrl, location.href);
    url.searchParams.set("version", versionA.value);
    location.assign(url);
  });

  versionB.addEventListener("change", () => {
    form.ownerDocument.querySelector('[data-slot="b"]').hidden = !versionB.value;
  });

  form.addEventListener("change", (event) => {
    if (event.target.name !== "input_mode") return;
    for (const box of form.querySelectorAll("[data-input]")) box.hidden = box.dataset.input !== event.target.value;
  });

  // The variables from the form (typed as the schema says) or from the raw JSON box; throws a sentence on bad input.
  const variables = () => {
    if (form.querySelector("input[name=input_mode]:checked").value === "json") {
      let value;
      try {
        value = JSON.parse(document.getElementById("raw-variables").value || "{}");
      } catch (error) {
        throw new Error(`The raw JSON is not valid JSON: ${error.message}`);
      }
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new Error("The raw JSON must be an object, such as {\"text\": \"…\"}.");
      }
      return value;
    }
    const result = {};
    for (const input of form.querySelectorAll("[data-var]")) {
      const name = input.dataset.var;
      const kind = input.dataset.kind;
      if (kind === "boolean") {
        result[name] = input.checked;
        continue;
      }
      const raw = input.value;
      if (raw === "" && !input.required) continue;
      if (kind === "integer" || kind === "number") {
        const number = Number(raw);
        if (raw === "" || Number.isNaN(number) || (kind === "integer" && !Number.isInteger(number))) {
          throw new Error(`${name} must be ${kind === "integer" ? "an integer" : "a number"}.`);
        }
        result[name] = number;
      } else if (kind === "json") {
        try {
          result[name] = JSON.parse(raw);
        } catch (error) {
          throw new Error(`${name} is not valid JSON: ${error.message}`);
        }
      } else {
        result[name] = raw;
      }
    }
    return result;
  };

  const money = (cost) => `$${Number(cost).toFixed(6)}`;

  const stats = (event) =>
    `${Math.round(event.latency_ms)} ms · ${event.prompt_tokens} + ${event.completion_tokens} tokens · ` +
    `${money(event.cost)} · ${event.request_id}`;

  const setStatus = (panel, text, kind) => {
    const badge = panel.querySelector("[data-status]");
    badge.textContent = text;
    badge.className = `badge ${kind}`;
    badge.setAttribute("aria-busy", kind === "badge-draft" ? "true" : "false");
  };

  const handle = (panel, event) => {
    const output = panel.querySelector("[data-output]");
    if (event.type === "delta") {
      output.textContent += event.text;
    } else if (event.type === "done") {
      output.textContent = event.output;
      setStatus(panel, "done", "badge-published");
      panel.querySelector("[data-stats]").textContent = stats(event);
    } else if (event.type === "error") {
      setStatus(panel, "error", "badge-retired");
      panel.querySelector("[data-stats]").textContent = `${event.message} (${stats(event)})`;
    }
  };

  // One run in one panel: POST, then read `data: {…}` events until the stream ends.
  const run = async (panel, version, input) => {
    panel.hidden = false;
    panel.querySelector("[data-title]").textContent = versionA.querySelector(`option[value="${version}"]`).textContent;
    panel.querySelector("[data-output]").textContent = "";
    panel.querySelector("[data-stats]").textContent = "Running…";
    setStatus(panel, "running", "badge-draft");
    let response;
    try {
      response = await fetch(form.dataset.runUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "text/event-stream" },
        body: JSON.stringify({ version: Number(version), variables: input }),
      });
    } catch {
      handle(panel, { type: "error", message: "The portal cannot be reached.", latency_ms: 0, prompt_tokens: 0,
                      completion_tokens: 0, cost: 0, request_id: "—" });
      return;
    }
    if (!response.ok) {
      let message = `The portal refused the run (HTTP ${response.status}).`;
      try {
        message = (await response.json()).message || message;
      } catch {
        // not JSON: keep the generic sentence
      }
      setStatus(panel, "refused", "badge-retired");
      panel.querySelector("[data-stats]").textContent = message;
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (line.startsWith("data: ")) handle(panel, JSON.parse(line.slice(6)));
      }
    }
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    let input;
    try {
      input = variables();
    } catch (error) {
      showError(error.message);
      return;
    }
    button.setAttribute("aria-busy", "true");
    button.disabled = true;
    const runs = [run(document.querySelector('[data-slot="a"]'), versionA.value, input)];
    if (versionB.value) runs.push(run(document.querySelector('[data-slot="b"]'), versionB.value, input));
    try {
      await Promise.all(runs);
    } finally {
      button.removeAttribute("aria-busy");
      button.disabled = false;
    }
  });
})();
