// The supervisor's own box: what keeps it current, how its refusals show, and its keyboard shortcuts.
//
// 1. The box depends on who is looking, so the live socket never carries it. When a push changes a
//    conference's audio map or replaces the supervision signal, every box on the page fetches itself
//    again (hx-trigger "supervision:refresh"), keeping focus where it was; a box asking "Barge in?"
//    or one being typed into waits for the next push.
// 2. Refusals (no line yet, nobody ticked, Telnyx said no) come back as 4xx/5xx carrying the box with
//    the reason, so they are swapped in like a success.
// 3. M monitor, W whisper to the ticked people, B barge (opens the confirm), L leave; never while
//    typing in a field, and never to answer the barge question. A box swapped in a moment ago is not
//    wired up by htmx until it settles; the shortcut wires it first, so the press is never a native
//    form post (a full page load).
// 4. A box never fetches itself while one of its own requests is on the way: that answer would
//    replace the box and drop the fresher one. The change waits and is fetched once the box settles.
// 5. When the conference ends (its header turns to "completed"), every box fetches itself at once,
//    whatever it was doing: there is nothing left to confirm or type.
(function () {
  "use strict";

  if (window.consoleSupervision) {
    return;
  }
  window.consoleSupervision = true;

  var SHORTCUTS = ["m", "w", "b", "l"];
  var stale = false;
  var ended = false;
  var focusAfterRefresh = null;

  function typing(element) {
    if (!element || !element.tagName) {
      return false;
    }
    var tag = element.tagName;
    if (tag === "INPUT") {
      return !/^(checkbox|radio|button|submit|reset)$/i.test(element.type || "");
    }
    return tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  // Whether a request that answers with a supervision box (a mode button, a line command, a card's
  // whisper, a refresh) is on its way.
  var ASKING = "[data-supervision].htmx-request, [data-supervision] .htmx-request, .card-supervise.htmx-request";

  function busy() {
    return document.querySelector(ASKING) !== null;
  }

  function refreshBoxes() {
    if (busy()) {
      stale = true; // fetched again once that answer has settled (htmx:afterSettle below)
      return;
    }
    var boxes = document.querySelectorAll("[data-supervision-refresh]");
    boxes.forEach(function (box) {
      var active = document.activeElement;
      var focusInside = active && box.contains(active);
      if (!box.getClientRects().length) {
        return; // hidden (a read-only viewer's page): nothing to fetch
      }
      if (!ended && (box.hasAttribute("data-confirming") || (focusInside && typing(active)))) {
        stale = true;
        return;
      }
      if (focusInside && active.id) {
        focusAfterRefresh = active.id;
      }
      htmx.process(box); // a box swapped in a moment ago has no listener yet: the trigger would go nowhere
      htmx.trigger(box, "supervision:refresh");
    });
  }

  // What an audio map says (who hears whom, names, roles, mute and hold), to tell a real change from
  // a snapshot that repeats what the page already shows.
  function audioSignature(map) {
    return map ? (map.getAttribute("data-hears") || "") + "|" + map.textContent.replace(/\s+/g, " ") : "";
  }

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var swapped = event.target;
    if (!swapped || !swapped.hasAttribute) {
      return;
    }
    if (swapped.id === "supervision-signal") {
      stale = true;
    } else if (swapped.classList.contains("conference-head") && swapped.getAttribute("data-status") === "completed") {
      ended = true;
      stale = true;
      // The last step's outcome ("Barged in: everyone can hear you") is no longer true of anyone.
      document.querySelectorAll("[data-supervision] [data-supervision-notice]").forEach(function (notice) {
        notice.textContent = "";
        notice.className = "supervision-notice";
      });
    } else if (swapped.hasAttribute("data-audio-map") && audioSignature(swapped) !== audioSignature(event.detail.target)) {
      stale = true;
    }
  });

  document.addEventListener("htmx:wsAfterMessage", function () {
    if (stale && window.htmx) {
      stale = false;
      refreshBoxes();
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var target = detail.target;
    var active = document.activeElement;
    if (detail.elt && detail.elt.hasAttribute && detail.elt.hasAttribute("data-supervision-refresh") &&
        target && active && target.contains(active) && typing(active)) {
      detail.shouldSwap = false; // never wipe what the supervisor is typing; the next push tries again
      stale = true;
      return;
    }
    if (detail.xhr.status >= 400 && detail.serverResponse && target && target.closest && target.closest("[data-supervision]")) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  // A push came while a box waited for an answer: fetch what changed once nothing is on the way.
  function catchUp() {
    if (stale && !busy()) {
      stale = false;
      refreshBoxes();
    }
  }

  document.addEventListener("htmx:afterRequest", catchUp);

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    catchUp();
    if (!target || !target.closest || !document.body.contains(target)) {
      return;
    }
    var cancel = target.querySelector ? target.querySelector("[data-barge-cancel]") : null;
    if (cancel) {
      cancel.focus();
      return;
    }
    if (focusAfterRefresh) {
      var again = document.getElementById(focusAfterRefresh);
      focusAfterRefresh = null;
      if (again && (document.activeElement === document.body || document.activeElement === null)) {
        again.focus({ preventScroll: true });
      }
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || typing(event.target)) {
      return;
    }
    var key = (event.key || "").toLowerCase();
    if (SHORTCUTS.indexOf(key) < 0) {
      return;
    }
    var box = document.querySelector("[data-supervision] .supervisor-panel-body");
    if (!box || box.hasAttribute("data-confirming")) {
      return;
    }
    var button = box.querySelector('button[data-shortcut="' + key + '"]');
    if (!button || button.disabled) {
      return;
    }
    event.preventDefault();
    if (window.htmx) {
      htmx.process(box); // wires a box swapped in since the last settle; a no-op on one already wired
    }
    button.click();
  });
})();
