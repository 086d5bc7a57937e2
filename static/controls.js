// Behaviour of the supervisor's controls beyond what htmx attributes express.
//
// 1. A control's refusals (422 from validation, Telnyx's 4xx, a 502 when Telnyx is unreachable)
//    carry HTML meant for the page, so they are swapped in like a success instead of dropped.
// 2. A control's fieldset is disabled while its command runs, which takes keyboard focus away;
//    once the answer is in place focus returns to the same button (or to the first refused field,
//    which the server marks with autofocus), so keyboard users never lose their place.
// 3. A live update that redraws a control must not take the supervisor's own command from under
//    them. A control still waiting for Telnyx is kept as it is, so its answer lands where it was
//    asked; a control answered less than NOTICE_KEEP_MS ago is redrawn with the answer's notice
//    carried over. Without this, the push caused by the command itself (a queued call's row
//    redrawn because its "keep place" changed) wiped the notice, or swallowed the answer when it
//    came while the request was still out.
(function () {
  "use strict";

  if (window.consoleControls) {
    return;
  }
  window.consoleControls = true;

  var focusBefore = null;
  var NOTICE_KEEP_MS = 30000;

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

  function inFlight(form) {
    return form.classList.contains((window.htmx && htmx.config.requestClass) || "htmx-request");
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var asked = controlOf(event.detail.elt);
    var answered = asked && asked.id ? document.getElementById(asked.id) : null;
    if (answered && answered.hasAttribute("data-control")) {
      answered.setAttribute("data-answered-at", String(Date.now()));
    }
  });

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var detail = event.detail;
    var fragment = detail.fragment;
    if (!fragment || !fragment.querySelectorAll) {
      return;
    }
    if (detail.target && detail.target.matches && detail.target.matches("form[data-control]") && inFlight(detail.target)) {
      detail.shouldSwap = false;  /* its own answer redraws it in a moment */
      return;
    }
    var redrawn = fragment.querySelectorAll("form[data-control][id]");
    for (var i = 0; i < redrawn.length; i += 1) {
      var incoming = redrawn[i];
      var shown = document.getElementById(incoming.id);
      if (!shown || !shown.hasAttribute("data-control")) {
        continue;
      }
      if (inFlight(shown)) {
        incoming.setAttribute("hx-preserve", "");  /* htmx moves the shown form into the new content */
        continue;
      }
      var answeredAt = Number(shown.getAttribute("data-answered-at") || 0);
      var notice = shown.querySelector(".control-status > .notice");
      var status = incoming.querySelector(".control-status");
      if (notice && status && !status.querySelector(".notice") && Date.now() - answeredAt < NOTICE_KEEP_MS) {
        status.appendChild(notice.cloneNode(true));
        incoming.setAttribute("data-answered-at", String(answeredAt));
      }
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
