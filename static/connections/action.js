// Status page of a connection action (Finish, Enable, Redeploy Integration Solution): refresh the checklist every
// second and a half from the status JSON without reloading the page, until the action has ended.
(function () {
  "use strict";
  var root = document.getElementById("action-progress");
  if (!root) { return; }
  var url = root.getAttribute("data-status-url");
  var MARKS = { ok: "✔", failed: "✘", skipped: "–", pending: "·" };

  function text(value) { return value === null || value === undefined ? "" : String(value); }

  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (content !== undefined) { node.textContent = content; }
    return node;
  }

  // The same markup as templates/connections/connectionsetup_checklist.html.
  function stepItem(step) {
    var item = element("li", "step-" + step.status);
    item.setAttribute("data-step", step.name);
    item.setAttribute("data-status", step.status);
    item.appendChild(element("strong", "", MARKS[step.status] + " " + step.name));
    if (step.layer && step.status === "failed") {
      item.appendChild(document.createTextNode(" "));
      item.appendChild(element("span", "bad", "[" + step.layer + "]"));
    }
    item.appendChild(element("div", "", text(step.message)));
    if (step.fix && step.status === "failed") {
      var fix = element("div", "fix");
      fix.appendChild(element("em", "", "Fix:"));
      fix.appendChild(document.createTextNode(" " + step.fix));
      item.appendChild(fix);
    }
    if (step.details && step.details.length) {
      var details = element("ul", "muted");
      step.details.forEach(function (line) { details.appendChild(element("li", "", line)); });
      item.appendChild(details);
    }
    return item;
  }

  function replaceList(list, steps) {
    list.textContent = "";
    steps.forEach(function (step) { list.appendChild(stepItem(step)); });
  }

  function show(id, visible) {
    var node = document.getElementById(id);
    if (node) { node.hidden = !visible; }
  }

  function render(data) {
    var outcome = document.getElementById("action-outcome");
    outcome.textContent = data.status_display;
    outcome.setAttribute("data-status", data.status);
    outcome.className = "action-status status-" + data.status;
    var waiting = document.getElementById("action-waiting");
    waiting.textContent = text(data.waiting);
    waiting.hidden = !data.waiting;
    var running = document.getElementById("action-running");
    running.textContent = "Running" + (data.pending.length ? ": " + data.pending[0] : "") + "…";
    running.hidden = data.status !== "Running";
    document.getElementById("action-message").textContent = text(data.message);
    replaceList(document.querySelector("#finish-checklist ol.checklist"), data.steps);
    replaceList(document.getElementById("action-pending"), data.pending.map(function (name) {
      return { name: name, status: "pending", message: "Not run yet.", details: [] };
    }));
    if (data.failed_step) {
      document.getElementById("action-fix").textContent = data.failed_step.name + ": " +
        (data.failed_step.fix || data.failed_step.message);
    }
    show("action-succeeded", data.done && data.ok);
    show("action-failed", data.done && !data.ok);
    root.setAttribute("data-done", data.done ? "true" : "false");
  }

  function poll() {
    var done = false;
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { render(data); done = data.done; } })
      .catch(function () { /* the next poll retries */ })
      .then(function () { if (!done) { window.setTimeout(poll, 1500); } });
  }
  if (root.getAttribute("data-done") !== "true") { poll(); }
}());
