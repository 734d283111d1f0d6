// Warns that Caps Lock is on while the password is typed. The page works
// without this script; the warning is announced through an aria-live region.
(function () {
  "use strict";
  var warning = document.getElementById("capslock-warning");
  if (!warning) return;
  var field = document.getElementById(warning.getAttribute("data-for"));
  if (!field) return;
  function update(event) {
    if (!event.getModifierState) return;
    var on = event.getModifierState("CapsLock");
    var text = on ? warning.getAttribute("data-message") : "";
    if (warning.textContent !== text) warning.textContent = text;
  }
  field.addEventListener("keydown", update);
  field.addEventListener("keyup", update);
  field.addEventListener("blur", function () { warning.textContent = ""; });
})();
