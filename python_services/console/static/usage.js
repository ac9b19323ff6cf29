// The usage page's charts: the numbers come from the page itself
// (<script type="application/json" id="usage-data">), drawn with the
// vendored Chart.js (web/node_modules, served under /console/vendor/).
// Nothing is fetched: the page works on a closed network.
(function () {
  "use strict";
  var source = document.getElementById("usage-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  // a few distinct colours that read on white and for most colour blindness
  var COLOURS = ["#1b6ec2", "#e07b00", "#2a9d55", "#c2185b", "#6a4fb3", "#8d6e63", "#00838f"];
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function colour(i) { return COLOURS[i % COLOURS.length]; }

  function datasets(series, kind) {
    return series.map(function (s, i) {
      return { label: s.label, data: s.values, backgroundColor: colour(i), borderColor: colour(i),
               borderWidth: kind === "line" ? 2 : 0, spanGaps: true, pointRadius: 2 };
    });
  }

  function draw(canvas, spec) {
    var chart = new Chart(canvas, {
      type: spec.type,
      data: { labels: data.days, datasets: datasets(spec.series, spec.type) },
      options: {
        responsive: true, maintainAspectRatio: false, animation: reduceMotion ? false : undefined,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom" } },
        scales: { x: { stacked: !!spec.stacked }, y: { stacked: !!spec.stacked, beginAtZero: true } }
      }
    });
    // browser tests wait for this: the chart is on the canvas
    canvas.setAttribute("data-drawn", "true");
    return chart;
  }

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var spec = data.charts[canvas.getAttribute("data-chart")];
    if (spec) { draw(canvas, spec); }
  });
})();
