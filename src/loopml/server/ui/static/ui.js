// loopml's web UI: small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Metric charts: ask for about as many points as the chart is wide, never more.
  function drawCharts() {
    var charts = document.querySelectorAll("div.chart[data-src]");
    charts.forEach(function (div) {
      var width = Math.max(100, Math.round(div.clientWidth || 600));
      fetch(div.dataset.src + "?points=" + width, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(r.status + " " + r.statusText); } return r.json(); })
        .then(function (data) {
          div.dataset.points = String(data.values.length);
          div.dataset.total = String(data.total);
          var title = data.key + (data.total > data.values.length
            ? " (" + data.values.length + " of " + data.total + " points: min and max per bucket)" : "");
          window.Plotly.newPlot(div, [{ x: data.steps, y: data.values, mode: "lines", name: data.key }],
            { title: { text: title }, margin: { t: 40, r: 20, b: 40, l: 60 }, xaxis: { title: { text: "step" } } },
            { displaylogo: false, responsive: true });
        })
        .catch(function (err) { div.textContent = "could not draw " + div.dataset.metric + ": " + err.message; });
    });
  }

  // Run comparison: parallel coordinates of params and metrics.
  function drawParallel() {
    var div = document.getElementById("parallel");
    var source = document.getElementById("parallel-data");
    if (!div || !source) { return; }
    var chart = JSON.parse(source.textContent);
    if (!chart.dimensions.length) { div.textContent = "These runs have no params or metrics."; return; }
    window.Plotly.newPlot(div, [{ type: "parcoords", dimensions: chart.dimensions }],
      { margin: { t: 60, r: 60, b: 30, l: 60 } }, { displaylogo: false, responsive: true });
    div.dataset.drawn = "true";
  }

  // A monitor's drift share and performance, window by window.
  function drawMonitor() {
    var div = document.getElementById("monitor-chart");
    var source = document.getElementById("monitor-data");
    if (!div || !source) { return; }
    var chart = JSON.parse(source.textContent);
    var x = chart.times.map(function (ms) { return new Date(ms).toISOString(); });
    var traces = Object.keys(chart.series).map(function (name) {
      return { x: x, y: chart.series[name], mode: "lines+markers", name: name };
    });
    window.Plotly.newPlot(div, traces, { margin: { t: 30, r: 20, b: 40, l: 60 } },
      { displaylogo: false, responsive: true });
    div.dataset.drawn = "true";
  }

  window.addEventListener("load", function () {
    if (window.Plotly) { drawCharts(); drawParallel(); drawMonitor(); }
  });
})();
