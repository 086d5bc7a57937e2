// Behaviour of the supervisor's controls beyond what htmx attributes express.
//
// 1. A control's refusals (422 from validation, Telnyx's 4xx, a 502 when Telnyx is unreachable)
//    carry HTML meant for the page, so they are swapped in like a success instead of dropped.
// 2. A control's fieldset is disabled while its command runs, which takes keyboard focus away;
//    once the answer is in place focus returns to the same button (or to the first refused field,
//    which the server marks with autofocus), so keyboard users never lose their place.
(function () {
  "use strict";

  if (window.consoleControls) {
    return;
  }
  window.consoleControls = true;

  var focusBefore = null;

  function controlOf(element) {
    return element && element.closest ? element.closest("[data-control]") : null;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (detail.xhr.status >= 400 && detail.serverResponse && controlOf(detail.elt)) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var active = document.activeElement;
    if (controlOf(event.detail.elt) && active && active.id) {
      focusBefore = active.id;
    } else if (controlOf(event.detail.elt) && active && controlOf(active)) {
      focusBefore = { form: controlOf(active).id, text: active.textContent.trim(), name: active.name };
    } else {
      focusBefore = null;
    }
  });

  function sameControl(memory) {
    if (typeof memory === "string") {
      return document.getElementById(memory);
    }
    var form = document.getElementById(memory.form);
    if (!form) {
      return null;
    }
    var candidates = form.querySelectorAll("button, input, select, textarea, summary");
    for (var i = 0; i < candidates.length; i += 1) {
      if (candidates[i].textContent.trim() === memory.text && candidates[i].name === memory.name) {
        return candidates[i];
      }
    }
    return form.querySelector("button");
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    if (!controlOf(event.detail.elt) && !(event.detail.target && event.detail.target.closest("[data-control]"))) {
      return;
    }
    var wanted = document.querySelector("[data-control] [autofocus]");
    if (wanted && wanted.isConnected) {
      wanted.focus();
      wanted.removeAttribute("autofocus");
      return;
    }
    if (focusBefore && (document.activeElement === document.body || document.activeElement === null)) {
      var again = sameControl(focusBefore);
      if (again && !again.disabled) {
        again.focus();
      }
    }
    focusBefore = null;
  });
})();
