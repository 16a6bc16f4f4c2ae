// The dry run page reloads every 3 seconds while the dry run is queued or running (no inline script: strict CSP).
(function () {
  "use strict";
  var status = document.getElementById("dry-run-status");
  if (status && status.dataset.running === "true") {
    window.setTimeout(function () { window.location.reload(); }, 3000);
  }
})();
