// Live progress without reloads: the full synchronization review, a synchronization job and the coupling log poll
// their JSON every 1.5 seconds while something runs and stop when it is done. The server renders the same state
// first, so the pages work without this script; a screen reader hears state changes through the page's
// role="status" region (#progress-announcement).
(function () {
  "use strict";
  var INTERVAL_MS = 1500;
  // While nothing runs but more may start (a review not done: started from the command line, by another
  // administrator, or between two waves of lines), the page looks again at this slower pace.
  var IDLE_INTERVAL_MS = 10000;
  // Progress figures are announced at most this often; state changes at once.
  var ANNOUNCE_EVERY_MS = 15000;

  function text(value) { return value === null || value === undefined ? "" : String(value); }

  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (content !== undefined) { node.textContent = text(content); }
    return node;
  }

  var announcer = document.getElementById("progress-announcement");
  var lastAnnounced = { key: null, at: 0 };
  // Announce ``message``: at once when ``key`` (the states) changed, else at most every ANNOUNCE_EVERY_MS.
  function announce(key, message) {
    if (!announcer || !message) { return; }
    var now = Date.now();
    if (key === lastAnnounced.key && now - lastAnnounced.at < ANNOUNCE_EVERY_MS) { return; }
    lastAnnounced = { key: key, at: now };
    announcer.textContent = message;
  }

  function setBar(bar, job) {
    if (!bar) { return; }
    bar.max = job.total || 1;
    if (job.total === null || job.total === undefined) { bar.removeAttribute("value"); } else { bar.value = job.processed; }
  }

  // Poll ``url()`` and hand each answer to ``render``, which returns "running" (poll again soon), "idle" (poll
  // again slowly) or "done" (stop). ``first`` is the state the server rendered the page in.
  function poll(url, render, first) {
    function next(state) {
      if (state === "running") { window.setTimeout(tick, INTERVAL_MS); }
      else if (state === "idle") { window.setTimeout(tick, IDLE_INTERVAL_MS); }
    }
    function tick() {
      fetch(url(), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) { return data ? render(data) : "running"; })
        .catch(function () { return "running"; /* the next poll retries */ })
        .then(next);
    }
    if (first === "running") { tick(); } else { next(first); }
  }

  // --- full synchronization review --------------------------------------------------------------------------------
  function renderJobCell(cell, job, lineName, side) {
    cell.textContent = "";
    if (!job) { cell.textContent = "—"; return; }
    var link = element("a", "job-status job-" + job.status, job.status_label || "—");
    link.href = job.url || "#";
    var bar = document.createElement("progress");
    bar.setAttribute("aria-label", lineName + " " + side + ": records read of the total");
    setBar(bar, job);
    var records = job.records_text + (job.rate_text ? " · " + job.rate_text : "") +
      (job.remaining_text ? " · " + job.remaining_text : "");
    cell.appendChild(link);
    cell.appendChild(bar);
    cell.appendChild(element("div", "job-records", records));
    cell.appendChild(element("div", "job-counts", job.counters_text));
    if (job.explanation) { cell.appendChild(element("div", "explanation", job.explanation)); }
  }

  function startReview(table) {
    var overall = document.getElementById("overall-progress");
    var overallText = document.getElementById("overall-text");
    function render(data) {
      overall.max = data.total || 1;
      overall.value = data.processed;
      var summary = data.lines_finished + " of " + data.lines_total + " lines finished · " + data.processed +
        " of " + data.total + " records" + (data.lines_failed ? " · " + data.lines_failed + " failed" : "") +
        (data.done ? " · done" : "");
      overallText.textContent = summary;
      table.setAttribute("data-done", data.done ? "true" : "false");
      table.setAttribute("data-running", data.running ? "true" : "false");
      var states = [];
      data.lines.forEach(function (line) {
        var row = document.getElementById("line-" + line.id);
        if (!row) { return; }
        var status = row.querySelector(".line-status");
        status.setAttribute("data-status", line.status);
        status.textContent = line.excluded ? "removed from this run" : (line.status_display || "—");
        status.appendChild(element("div", "waiting", line.waiting));
        status.appendChild(element("div", "error", line.error));
        renderJobCell(row.querySelector(".line-to"), line.to, line.name, "to Dataverse");
        renderJobCell(row.querySelector(".line-from"), line.from, line.name, "from Dataverse");
        if (line.status_display && !line.excluded) { states.push(line.name + ": " + line.status_display); }
      });
      announce(states.join("; ") + (data.done ? " done" : ""), "Full synchronization: " + summary + ". " +
        states.join("; ") + ".");
      return data.running ? "running" : (data.done ? "done" : "idle");
    }
    var url = table.getAttribute("data-status-url");
    poll(function () { return url; }, render, table.getAttribute("data-running") === "true" ? "running" : "idle");
  }

  // --- one job: the synchronization job page and the coupling log ------------------------------------------------
  function renderJob(section, job) {
    section.querySelectorAll("[data-field]").forEach(function (node) {
      var name = node.getAttribute("data-field");
      var value = job[name];
      if (name === "explanation") { node.hidden = !value; }
      node.textContent = text(value) || (name === "explanation" ? "" : "—");
      if (name === "status_label") { node.className = "job-state job-" + job.status; }
    });
    setBar(section.querySelector("progress.job-bar"), job);
    section.setAttribute("data-running", job.running ? "true" : "false");
    announce(job.status_label, job.status_label + ": " + job.records_text +
      (job.remaining_text ? ", " + job.remaining_text : "") + (job.explanation ? ". " + job.explanation : ""));
  }

  function startJob(section) {
    var errors = parseInt(section.getAttribute("data-errors") || "0", 10);
    var notice = section.querySelector(".new-errors");
    function render(data) {
      renderJob(section, data.job);
      if (notice && data.error_count > errors) { notice.hidden = false; }
      return data.job.running ? "running" : "done";
    }
    var url = section.getAttribute("data-progress-url");
    poll(function () { return url; }, render, section.getAttribute("data-running") === "true" ? "running" : "done");
  }

  function startCouplingLog(section) {
    var body = document.querySelector("#coupling-log tbody");
    var base = section.getAttribute("data-progress-url");
    var last = 0;
    body.querySelectorAll("tr[data-sequence]").forEach(function (row) {
      last = Math.max(last, parseInt(row.getAttribute("data-sequence"), 10) || 0);
    });
    var running = section.getAttribute("data-running") === "true";
    function render(data) {
      renderJob(section, data.job);
      if (data.lines.length) {
        var empty = body.querySelector("tr.no-lines");
        if (empty) { empty.remove(); }
      }
      data.lines.forEach(function (line) {
        var row = element("tr", "outcome-" + line.outcome);
        row.setAttribute("data-sequence", line.sequence);
        [line.bc, line.outcome_label, line.dataverse, line.message].forEach(function (value) {
          row.appendChild(element("td", "", value));
        });
        body.appendChild(row);
      });
      last = data.last;
      // More lines than one answer carries: keep asking even after the job ended.
      return data.job.running || data.lines.length > 0 ? "running" : "done";
    }
    // Each poll asks for the lines after the last one shown.
    poll(function () { return base + "&after=" + last; }, render, running ? "running" : "done");
  }

  var review = document.getElementById("review-table");
  if (review && review.getAttribute("data-status-url")) { startReview(review); }
  var job = document.getElementById("job-progress");
  if (job) { startJob(job); }
  var coupling = document.getElementById("coupling-progress");
  if (coupling) { startCouplingLog(coupling); }
}());
