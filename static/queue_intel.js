/* Queue intelligence in the console pages: each queued caller's countdown to the service-level
   target (ticking from data attributes), and the one-click actions revealed when it is breached. */
(function () {
  "use strict";

  function pad(n) { return n < 10 ? "0" + n : "" + n; }

  function clock(seconds) {
    var whole = Math.max(0, Math.ceil(seconds));
    return Math.floor(whole / 60) + ":" + pad(whole % 60);
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-breach-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-breach-since"));
      var target = parseFloat(el.getAttribute("data-breach-target"));
      if (isNaN(since) || isNaN(target)) { return; }
      var left = target - (now - since) / 1000;
      var breached = left <= 0;
      var leftEl = el.querySelector(".breach-left");
      var labelEl = el.querySelector(".breach-label");
      var text = breached ? clock(-left) : clock(left);
      if (leftEl && leftEl.textContent !== text) { leftEl.textContent = text; }
      if (labelEl) { labelEl.textContent = breached ? "over target" : "to target"; }
      if (breached && !el.hasAttribute("data-breached")) {
        el.setAttribute("data-breached", "");
        var row = el.closest("tr");
        var actions = row && row.querySelector("[data-breach-actions]");
        if (actions) {
          actions.hidden = false;
          if (!actions.hasAttribute("data-loaded") && window.htmx) {
            actions.setAttribute("data-loaded", "");
            window.htmx.trigger(actions, "breach-reached");
          }
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 1000);
  });
  document.addEventListener("htmx:afterSettle", tick);
  document.addEventListener("htmx:oobAfterSwap", tick);
}());

/* The alerts page's opt-in: browser notifications and a beep on the wallboard (remembered per browser). */
(function () {
  "use strict";
  var KEY = "supervisor-console-alert-notifications";

  function on() { try { return localStorage.getItem(KEY) === "on"; } catch (e) { return false; } }

  function show(button) {
    button.setAttribute("aria-pressed", on() ? "true" : "false");
    var status = document.getElementById("alert-opt-in-status");
    if (status) { status.textContent = on() ? "Notifications and sound are on in this browser." : "Notifications and sound are off."; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("alert-opt-in");
    if (!button) { return; }
    show(button);
    button.addEventListener("click", function () {
      var next = on() ? "off" : "on";
      try { localStorage.setItem(KEY, next); } catch (e) { /* private mode */ }
      if (next === "on" && window.Notification && Notification.permission === "default") {
        Notification.requestPermission();
      }
      show(button);
    });
  });
}());
