/* Canopy dashboard behaviour. Pages work without it; this adds charts and small comforts. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  var palette = ["#2f7d4f", "#3b82c4", "#d08a2e", "#8e5bb5", "#c0504d", "#4aa3a2"];

  var builders = {
    fill: function (canvas, data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [
            { label: canvas.dataset.labelMembers, data: data.members, backgroundColor: "#2f7d4f", stack: "s" },
            { label: canvas.dataset.labelRoom, data: data.room, backgroundColor: "#d9e7dd", stack: "s" }
          ]
        },
        options: {
          indexAxis: "y",
          maintainAspectRatio: false,
          scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } },
          plugins: { legend: { position: "bottom" } }
        }
      };
    },
    kinds: function (canvas, data) {
      return {
        type: "doughnut",
        data: { labels: data.labels, datasets: [{ data: data.counts, backgroundColor: palette }] },
        options: { maintainAspectRatio: false, plugins: { legend: { position: "bottom" } } }
      };
    }
  };

  function drawCharts(root) {
    if (!window.Chart) { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      var build = builders[canvas.dataset.chart];
      var data = readJSON(canvas.dataset.source);
      if (!build || !data) { return; }
      new window.Chart(canvas, build(canvas, data));
      canvas.dataset.drawn = "1";
    });
  }

  function wire(root) {
    root.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
      });
    });
    drawCharts(root);
  }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:afterSwap", function (event) { wire(event.target); });
})();

/* Mark the box whose panel is open. */
document.addEventListener("htmx:afterSwap", function (event) {
  if (event.target.id !== "group-panel") { return; }
  var body = event.target.querySelector("[data-group-id]");
  document.querySelectorAll(".orgchart .node.selected").forEach(function (node) { node.classList.remove("selected"); });
  if (body) {
    var node = document.querySelector('.orgchart .node[data-group-id="' + body.dataset.groupId + '"]');
    if (node) { node.classList.add("selected"); }
  }
});
