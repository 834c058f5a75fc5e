// The analytics dashboard's charts: Chart.js (vendor/chartjs) draws the series the page embeds as JSON
// (<script id="analytics-charts" type="application/json">, from Django's json_script). Times are UTC.
(() => {
  "use strict";

  const source = document.getElementById("analytics-charts");
  if (!source || typeof Chart === "undefined") return;
  const { granularity, series } = JSON.parse(source.textContent);

  const style = getComputedStyle(document.documentElement);
  const muted = style.getPropertyValue("--pico-muted-color").trim() || "#777";
  const grid = style.getPropertyValue("--pico-muted-border-color").trim() || "rgba(128, 128, 128, 0.2)";
  const colors = { calls: "#3b82c4", errors: "#d9534f", p50: "#2e9e6a", p95: "#e39b2d", p99: "#b2417a", tokensIn: "#5b6fd6", tokensOut: "#9d7fe0", cost: "#1f9aa8" };

  const pad = (n) => String(n).padStart(2, "0");
  const label = (iso) => {
    const t = new Date(iso);
    const day = `${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
    const time = `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}`;
    if (granularity === "day") return `${t.getUTCFullYear()}-${day}`;
    if (granularity === "hour") return `${day} ${time}`;
    return time;
  };
  const labels = series.map((point) => label(point.bucket));
  const column = (name) => series.map((point) => (point[name] === null ? null : Number(point[name])));
  const ms = (value) => {
    if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
    return value >= 10 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`;
  };
  const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
  const dollars = (value) => `$${value >= 1 ? value.toFixed(2) : Number(value.toPrecision(3))}`;

  Chart.defaults.color = muted;
  Chart.defaults.borderColor = grid;
  Chart.defaults.font.family = style.getPropertyValue("--pico-font-family").trim() || Chart.defaults.font.family;

  const draw = (id, type, datasets, format, stacked = false) => {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    new Chart(canvas, {
      type,
      data: { labels, datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${item.raw === null ? "—" : format(item.raw)}` } },
        },
        scales: {
          x: { stacked, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 16 }, grid: { display: false } },
          y: { stacked, beginAtZero: true, ticks: { callback: (value) => format(value) } },
        },
        elements: { point: { radius: series.length > 60 ? 0 : 2 }, line: { tension: 0.25, borderWidth: 2 } },
      },
    });
  };

  const calls = column("calls");
  const errors = column("errors");
  const bar = (text, data, color) => ({ label: text, data, backgroundColor: color, borderColor: color, maxBarThickness: 28 });
  const line = (text, data, color, extra = {}) => ({ label: text, data, borderColor: color, backgroundColor: color, spanGaps: false, ...extra });

  draw("chart-calls", "bar", [
    bar("Succeeded", calls.map((n, i) => n - errors[i]), colors.calls),
    bar("Errors", errors, colors.errors),
  ], (value) => compact.format(value), true);
  draw("chart-latency", "line", [
    line("p50", column("p50_ms"), colors.p50),
    line("p95", column("p95_ms"), colors.p95),
    line("p99", column("p99_ms"), colors.p99),
  ], ms);
  draw("chart-tokens", "bar", [
    bar("In (prompt)", column("prompt_tokens"), colors.tokensIn),
    bar("Out (completion)", column("completion_tokens"), colors.tokensOut),
  ], (value) => compact.format(value), true);
  draw("chart-cost", "line", [
    line("Cost", column("cost"), colors.cost, { fill: true, backgroundColor: `${colors.cost}33` }),
  ], dollars);
})();
