// Sightline's only script: htmx wiring and charts. Pages carry their data in
// data-* attributes, so the Content-Security-Policy can forbid inline script.
(function () {
  "use strict";

  // Validation errors (422) re-render the form; other errors show a notice.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var status = evt.detail.xhr.status;
    if (status === 422 || status === 409) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    } else if (status >= 400) {
      evt.detail.shouldSwap = false;
      showNotice(status === 403 ? "You do not have permission to do that." :
        status === 401 ? "Your session has ended: please log in again." :
        "Something went wrong (" + status + "). Please try again.");
    }
  });
  document.addEventListener("htmx:sendError", function () {
    showNotice("Sightline cannot be reached. Check your connection and try again.");
  });

  // Actions say what they did: HX-Trigger: {"notice": "Snoozed until …"}.
  document.body.addEventListener("notice", function (evt) {
    showNotice(evt.detail && evt.detail.value ? evt.detail.value : "Done.");
  });

  // "Print for the meeting": the print stylesheet lays the page out for paper.
  document.addEventListener("click", function (evt) {
    if (evt.target.closest && evt.target.closest("[data-print]")) window.print();
  });

  function showNotice(text) {
    var box = document.getElementById("notice");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.hidden = true; }, 6000);
  }

  // CSV uploads: a <progress> in the form follows the upload; once the file is sent
  // the server still checks and writes it, which the status line says.
  document.addEventListener("htmx:xhr:progress", function (evt) {
    var form = evt.target && evt.target.closest ? evt.target.closest("form") : null;
    var bar = form && form.querySelector("progress");
    if (!bar || !evt.detail.lengthComputable) return;
    bar.hidden = false;
    bar.max = evt.detail.total;
    bar.value = evt.detail.loaded;
    var status = form.querySelector(".import-status");
    if (status) {
      status.textContent = evt.detail.loaded < evt.detail.total ?
        "Uploading… " + Math.round(100 * evt.detail.loaded / evt.detail.total) + "%" :
        "Uploaded; checking and writing every row…";
    }
  });

  // Charts: <canvas data-chart='{"type":"line","labels":[…],"series":[…]}'>.
  var dashes = [[], [6, 4], [2, 3], [10, 3, 2, 3]];
  var points = ["circle", "rect", "triangle", "rectRot"];
  var palette = ["#2f5fd0", "#c2410c", "#15803d", "#7e22ce", "#0e7490"];

  function initCharts(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas._chart) canvas._chart.destroy();
      var spec;
      try { spec = JSON.parse(canvas.getAttribute("data-chart")); } catch (e) { return; }
      var datasets = (spec.series || []).map(function (s, i) {
        var color = s.color || palette[i % palette.length];
        return {
          label: s.label, data: s.data, borderColor: color, backgroundColor: color,
          // Dash and point style tell series apart without relying on colour.
          borderDash: s.target ? [6, 4] : dashes[i % dashes.length],
          pointStyle: points[i % points.length], pointRadius: s.target ? 0 : 2,
          borderWidth: s.target ? 1.5 : 2, spanGaps: true, stepped: !!s.stepped,
          stack: spec.stacked ? "all" : undefined
        };
      });
      canvas._chart = new Chart(canvas, {
        type: spec.type || "line",
        data: { labels: spec.labels, datasets: datasets },
        options: {
          animation: false, responsive: true, maintainAspectRatio: false,
          indexAxis: spec.horizontal ? "y" : "x",
          interaction: { mode: "index", intersect: false },
          plugins: { legend: { display: datasets.length > 1, labels: { usePointStyle: true } } },
          scales: {
            x: { stacked: !!spec.stacked, ticks: { maxTicksLimit: 10 } },
            y: { stacked: !!spec.stacked, beginAtZero: true, suggestedMax: spec.max,
              ticks: { callback: function (v) { return spec.percent ? Math.round(v * 100) + "%" : v; } } }
          }
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { initCharts(document); });
  document.addEventListener("htmx:afterSettle", function (evt) { initCharts(evt.detail.elt || document); });
})();
