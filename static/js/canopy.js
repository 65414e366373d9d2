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
    mix: function (canvas, data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [
            { label: canvas.dataset.labelActual, data: data.actual, backgroundColor: "#2f7d4f" },
            { label: canvas.dataset.labelTarget, data: data.target, backgroundColor: "#d9e7dd" }
          ]
        },
        options: { maintainAspectRatio: false, scales: { y: { beginAtZero: true, max: 100 } }, plugins: { legend: { position: "bottom" } } }
      };
    },
    line: function (canvas, data) {
      var percent = canvas.dataset.percent === "1";
      return {
        type: "line",
        data: {
          labels: data.labels,
          datasets: data.datasets.map(function (set, index) {
            return {
              label: set.label,
              data: set.data.map(function (value) { return value === null ? null : (percent ? value * 100 : value); }),
              borderColor: palette[index % palette.length],
              backgroundColor: palette[index % palette.length],
              pointRadius: 0,
              borderWidth: 2,
              spanGaps: true,
              tension: 0.25
            };
          })
        },
        options: {
          maintainAspectRatio: false,
          interaction: { mode: "index", intersect: false },
          scales: { y: { beginAtZero: true, ticks: percent ? { callback: function (v) { return v + "%"; } } : {} } },
          plugins: { legend: { position: "bottom" } }
        }
      };
    },
    bars: function (canvas, data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: data.datasets.map(function (set, index) {
            return { label: set.label, data: set.data, backgroundColor: set.color || palette[index % palette.length] };
          })
        },
        options: {
          indexAxis: canvas.dataset.horizontal === "1" ? "y" : "x",
          maintainAspectRatio: false,
          scales: { y: { beginAtZero: true } },
          plugins: { legend: { display: data.datasets.length > 1, position: "bottom" } }
        }
      };
    },
    calibration: function (canvas, data) {
      return {
        type: "scatter",
        data: {
          datasets: [
            { label: canvas.dataset.labelModel, data: data.points, backgroundColor: "#2f7d4f", pointRadius: 5, showLine: true, borderColor: "#2f7d4f" },
            { label: canvas.dataset.labelPerfect, data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, borderColor: "#bbb", borderDash: [4, 4], pointRadius: 0 }
          ]
        },
        options: {
          maintainAspectRatio: false,
          scales: { x: { min: 0, max: 1, title: { display: true, text: canvas.dataset.labelX } }, y: { min: 0, max: 1, title: { display: true, text: canvas.dataset.labelY } } },
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

/* Logic jumps on the application form: a question shows only after certain answers. */
(function () {
  "use strict";
  function answersOf(form, name) {
    var values = [];
    form.querySelectorAll('[name="' + name + '"]').forEach(function (input) {
      if ((input.type === "radio" || input.type === "checkbox") ? input.checked : input.value) { values.push(input.value); }
    });
    return values;
  }
  function refresh(form) {
    form.querySelectorAll(".question[data-show-if]").forEach(function (question) {
      var parent = form.querySelector('.question[data-question="' + question.dataset.showIf + '"]');
      var wanted = JSON.parse(question.dataset.showValues || "[]");
      var visible = parent && !parent.hidden && answersOf(form, question.dataset.showIf).some(function (value) {
        return wanted.indexOf(value) !== -1;
      });
      question.hidden = !visible;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".apply-form").forEach(function (form) {
      // Several passes settle chains of jumps (a question that depends on a dependent one).
      var settle = function () { for (var i = 0; i < 5; i++) { refresh(form); } };
      form.addEventListener("change", settle);
      settle();
    });
  });
})();

/* The applications queue from the keyboard: j/k move, a approve, r reject, x select, o open. */
(function () {
  "use strict";
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("[data-queue] tr[data-row]")); }
  function current() { return document.querySelector("[data-queue] tr[data-row].selected"); }
  function select(row) {
    rows().forEach(function (other) { other.classList.remove("selected"); });
    if (row) { row.classList.add("selected"); row.scrollIntoView({ block: "nearest" }); }
  }
  document.addEventListener("keydown", function (event) {
    if (!document.querySelector("[data-queue]")) { return; }
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.metaKey || event.ctrlKey || event.altKey) {
      if (event.key === "Escape" && event.target.blur) { event.target.blur(); }
      return;
    }
    var all = rows(), row = current(), index = all.indexOf(row);
    if (event.key === "j") { select(all[Math.min(index + 1, all.length - 1)] || all[0]); }
    else if (event.key === "k") { select(all[Math.max(index - 1, 0)] || all[0]); }
    else if (!row) { return; }
    else if (event.key === "a") { var approve = row.querySelector("[data-approve]"); if (approve) { approve.click(); } }
    else if (event.key === "r") { var reason = row.querySelector("[data-reason]"); if (reason) { reason.focus(); } }
    else if (event.key === "x") { var box = row.querySelector('input[type="checkbox"]'); if (box) { box.checked = !box.checked; } }
    else if (event.key === "o" || event.key === "Enter") { var open = row.querySelector("[data-open]"); if (open) { open.click(); } }
    else { return; }
    event.preventDefault();
  });
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("[data-queue] tr[data-row]");
    if (row) { select(row); }
    var all = event.target.closest && event.target.closest("[data-select-all]");
    if (all) { rows().forEach(function (r) { var box = r.querySelector('input[type="checkbox"]'); if (box) { box.checked = all.checked; } }); }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    // A decided row keeps the selection, so j moves on to the next one.
    if (event.target && event.target.matches && event.target.matches("tr[data-row]")) { select(event.target); }
  });
})();
