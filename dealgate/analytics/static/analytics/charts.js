/* Draws every chart of an analytics page: each [data-chart] element names a JSON script element
 * holding its plotly spec. A file, not an inline script, so the Content-Security-Policy can refuse
 * every inline script. */
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var spec = JSON.parse(document.getElementById(el.dataset.chart).textContent);
    Plotly.newPlot(el, spec.data, spec.layout, {displayModeBar: false, responsive: true});
  });
});
