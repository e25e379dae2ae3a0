// Informes: draws the result's chart with Chart.js from the page's JSON block (a
// <script type="application/json">, never executed: the CSP allows no inline script), and marks
// the page as having JavaScript so the buttons htmx makes unnecessary hide. The table beside the
// chart carries every figure, so the page reads the same without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("reports-js");
  var PALETTE = ["#1f5fd1", "#137333", "#b06000", "#8e24aa", "#c5221f", "#00796b", "#5b6475", "#ad1457"];
  var charts = [];

  function formatter(data, currency, whole) {
    var options = data.money && currency ? { style: "currency", currency: currency } : { maximumFractionDigits: 2 };
    if (whole) { options.minimumFractionDigits = 0; options.maximumFractionDigits = 0; }
    try {
      return new Intl.NumberFormat(data.locale || "es-CO", options);
    } catch (e) {
      return new Intl.NumberFormat("es-CO");
    }
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart-source"));
    if (!source || typeof Chart === "undefined") { return; }
    var data;
    try { data = JSON.parse(source.textContent || "{}"); } catch (e) { return; }
    var panel = data.panels && data.panels[Number(canvas.getAttribute("data-chart-panel") || 0)];
    if (!data.labels || !panel) { return; }
    var currency = panel.currency || "";
    var datasets = panel.series.map(function (s, i) {
      var colour = PALETTE[i % PALETTE.length];
      return { label: s.name, data: s.data, backgroundColor: colour, borderColor: colour };
    });
    charts.push(new Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var value = ctx.parsed.y;
                return ctx.dataset.label + ": " + formatter(data, currency).format(value);
              }
            }
          }
        },
        scales: {
          x: { title: { display: true, text: data.axis_label } },
          y: { beginAtZero: true, title: { display: true, text: data.value_label },
               ticks: { callback: function (v) { return formatter(data, currency, true).format(v); } } }
        }
      }
    }));
  }

  function drawAll() {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    document.querySelectorAll("canvas[data-chart-source]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.querySelector && event.target.querySelector("canvas[data-chart-source]")) { drawAll(); }
  });
})();
