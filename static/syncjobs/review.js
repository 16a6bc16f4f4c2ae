// Full synchronization review: refresh the line statuses and progress every two seconds without reloading the page.
(function () {
  "use strict";
  var table = document.getElementById("review-table");
  if (!table) { return; }
  var url = table.getAttribute("data-status-url");

  function text(value) { return value === null || value === undefined ? "" : String(value); }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return ""; }
    if (seconds < 60) { return seconds + " s"; }
    var minutes = Math.floor(seconds / 60);
    return minutes + " min " + (seconds % 60) + " s";
  }

  function renderJob(cell, job) {
    cell.textContent = "";
    if (!job) { cell.textContent = "—"; return; }
    var bar = document.createElement("progress");
    bar.max = job.total || Math.max(job.processed, 1);
    bar.value = job.processed;
    var link = document.createElement("a");
    link.href = job.url || "#";
    link.className = "job-status job-" + job.status;
    link.textContent = (job.status || "—");
    var counts = document.createElement("div");
    counts.className = "job-counts";
    counts.textContent = job.processed + " / " + (job.total === null ? "?" : job.total) + " records" +
      (job.rate !== null ? " · " + job.rate + "/s" : "") +
      (job.remaining_seconds !== null ? " · " + duration(job.remaining_seconds) + " left" : "") +
      " · +" + job.inserted + " ~" + job.modified + " =" + job.unchanged + " ⨯" + job.failed +
      (job.coupled ? " ⇄" + job.coupled : "");
    cell.appendChild(link);
    cell.appendChild(bar);
    cell.appendChild(counts);
  }

  function render(data) {
    var overall = document.getElementById("overall-progress");
    overall.max = data.total || 1;
    overall.value = data.processed;
    document.getElementById("overall-text").textContent = data.lines_finished + " of " + data.lines_total +
      " lines finished · " + data.processed + " of " + data.total + " records" +
      (data.lines_failed ? " · " + data.lines_failed + " failed" : "") + (data.done ? " · done" : "");
    table.setAttribute("data-done", data.done ? "true" : "false");
    data.lines.forEach(function (line) {
      var row = document.getElementById("line-" + line.id);
      if (!row) { return; }
      var status = row.querySelector(".line-status");
      status.setAttribute("data-status", line.status);
      status.textContent = line.excluded ? "removed from this run" : (line.status_display || "—");
      var waiting = document.createElement("div");
      waiting.className = "waiting";
      waiting.textContent = text(line.waiting);
      var error = document.createElement("div");
      error.className = "error";
      error.textContent = text(line.error);
      status.appendChild(waiting);
      status.appendChild(error);
      renderJob(row.querySelector(".line-to"), line.to);
      renderJob(row.querySelector(".line-from"), line.from);
    });
  }

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { render(data); } })
      .catch(function () { /* the next poll retries */ })
      .then(function () { window.setTimeout(poll, 2000); });
  }
  poll();
}());
