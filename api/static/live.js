// Live progress bars: each [data-events] element follows its run's Server-Sent Events until "finished".
// Events are whole snapshots, so the bar shows the newest one; on "finished" a run page reloads to
// show its summary tables. No framework, no build step.
(function () {
  "use strict";

  function show(el, data) {
    var p = Math.max(0, Math.min(1, Number(data.progress) || 0));
    var pct = (Math.round(p * 1000) / 10).toFixed(1);
    el.querySelector(".fill").style.width = pct + "%";
    el.querySelector(".pct").textContent = pct + " %";
    el.dataset.progress = String(p);
    if (data.run_status) {
      el.dataset.status = data.run_status;
      el.querySelector(".state").textContent = data.run_status;
    }
    var counts = data.status_counts || {};
    Object.keys(counts).forEach(function (name) {
      var cell = document.querySelector('[data-count="' + name + '"]');
      if (cell) cell.textContent = Number(counts[name]).toLocaleString("en");
    });
  }

  function follow(el) {
    var source = new EventSource(el.dataset.events);
    source.addEventListener("progress", function (e) { show(el, JSON.parse(e.data)); });
    source.addEventListener("finished", function (e) {
      source.close();
      var data = JSON.parse(e.data);
      data.progress = 1;
      show(el, data);
      el.dataset.finished = "1";
      if (el.dataset.reload) setTimeout(function () { window.location.reload(); }, 600);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-events]").forEach(follow);
  });
})();
