// Indicadores: draws each <canvas data-chart="key"> with Chart.js from the page's JSON block
// (#indicator-charts; no inline script, the CSP forbids it). The tables beside the charts hold
// the exact figures; a chart is only their picture, so a page without JavaScript loses nothing.
(function () {
  "use strict";
  var TONES = {
    primary: "#1f5fd1", muted: "#aab2c0", call: "#1f5fd1", meeting: "#137333", visit: "#8a5300",
    task: "#6b3fa0", email: "#b42318"
  };
  // Long labels (a stage, a rate, a person) are broken into lines of about 16 characters, so a
  // phone-wide chart does not cut them.
  function wrap(label) {
    var words = String(label).split(" "), lines = [], line = "";
    words.forEach(function (word) {
      if (line && (line + " " + word).length > 16) { lines.push(line); line = word; }
      else { line = line ? line + " " + word : word; }
    });
    if (line) { lines.push(line); }
    return lines.length > 1 ? lines : label;
  }
  function draw() {
    var block = document.getElementById("indicator-charts");
    if (!block || typeof window.Chart === "undefined") { return; }
    var specs = JSON.parse(block.textContent || "{}");
    var lang = document.documentElement.lang || "es";
    var numbers = new Intl.NumberFormat(lang === "en" ? "en-US" : "es-CO", { maximumFractionDigits: 2 });
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var spec = specs[canvas.getAttribute("data-chart")];
      if (!spec || canvas.dataset.drawn) { return; }
      canvas.dataset.drawn = "1";
      var tick = function (value) { return numbers.format(value) + (spec.percent ? " %" : ""); };
      var valueAxis = { beginAtZero: true, stacked: !!spec.stacked, ticks: { callback: tick } };
      if (spec.percent) { valueAxis.suggestedMax = 100; }
      var labelAxis = { stacked: !!spec.stacked, ticks: { autoSkip: false } };
      new window.Chart(canvas, {
        type: spec.type || "bar",
        data: {
          labels: spec.labels.map(wrap),
          datasets: spec.datasets.map(function (ds) {
            var colour = TONES[ds.tone] || TONES.primary;
            return { label: ds.label, data: ds.data, backgroundColor: colour, borderColor: colour, borderWidth: 1 };
          })
        },
        options: {
          indexAxis: spec.horizontal ? "y" : "x",
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          plugins: {
            legend: { display: spec.datasets.length > 1, position: "bottom" },
            tooltip: {
              callbacks: {
                label: function (ctx) {
                  var v = spec.horizontal ? ctx.parsed.x : ctx.parsed.y;
                  return ctx.dataset.label + ": " + tick(v);
                }
              }
            }
          },
          scales: spec.horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis }
        }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
