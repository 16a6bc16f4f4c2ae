// Assisted setup: show only the inputs of the chosen authentication type. The server renders the step with the
// other types' inputs hidden (data-shown-for lists the types that use an input); this switches them live when the
// type changes, without a reload. No inline script: the site's Content-Security-Policy allows 'self' only.
(function () {
  "use strict";
  var form = document.querySelector("form[data-auth-selector]");
  if (!form) { return; }
  var selector = form.querySelector("[name='" + form.getAttribute("data-auth-selector") + "']");
  if (!selector) { return; }

  function update() {
    var chosen = selector.value;
    var fields = form.querySelectorAll(".field[data-shown-for]");
    for (var i = 0; i < fields.length; i++) {
      var types = fields[i].getAttribute("data-shown-for").split(" ");
      fields[i].hidden = types.indexOf(chosen) === -1;
    }
  }

  selector.addEventListener("change", update);
  update();
}());
