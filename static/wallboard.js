/* Wallboard behaviour: reload the board on a live pulse or reconnect, tick wait timers, and on an
   alert level change announce it politely and, if the user opted in on the alerts page, show a
   browser notification and play a short WebAudio beep. */
(function () {
  "use strict";

  var OPT_IN_KEY = "supervisor-console-alert-notifications";
  var levels = {};
  var audio = null;

  function pad(n) { return n < 10 ? "0" + n : "" + n; }

  function formatDuration(seconds) {
    var whole = Math.max(0, Math.floor(seconds));
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-since"));
      if (!isNaN(since)) { el.textContent = formatDuration((now - since) / 1000); }
    });
  }

  function optedIn() {
    try { return localStorage.getItem(OPT_IN_KEY) === "on"; } catch (e) { return false; }
  }

  function announce(text) {
    var region = document.getElementById("announcer");
    if (!region || !text) { return; }
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  function beep(critical) {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) { return; }
      audio = audio || new Context();
      var oscillator = audio.createOscillator();
      var gain = audio.createGain();
      oscillator.frequency.value = critical ? 880 : 660;
      gain.gain.value = 0.1;
      oscillator.connect(gain);
      gain.connect(audio.destination);
      oscillator.start();
      oscillator.stop(audio.currentTime + 0.25);
    } catch (e) { /* audio blocked until the user interacts: the visual alert still shows */ }
  }

  function notify(text, critical) {
    if (!optedIn()) { return; }
    beep(critical);
    if (window.Notification && Notification.permission === "granted") {
      try { new Notification("Queue alert", { body: text, tag: text }); } catch (e) { /* not allowed here */ }
    }
  }

  function checkLevels(first) {
    var changes = [];
    document.querySelectorAll(".wb-tile[data-queue]").forEach(function (tile) {
      var queue = tile.getAttribute("data-queue");
      var level = tile.getAttribute("data-level");
      if (!first && levels[queue] !== undefined && levels[queue] !== level) {
        changes.push({ text: tile.getAttribute("data-alert-text"), critical: level === "critical" });
      }
      levels[queue] = level;
    });
    if (changes.length) {
      announce(changes.map(function (c) { return c.text; }).join(". "));
      changes.forEach(function (c) { notify(c.text, c.critical); });
    }
  }

  function refresh() {
    var board = document.getElementById("wallboard-board");
    if (board && window.htmx) { window.htmx.trigger(board, "wallboard-refresh"); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    checkLevels(true);
    tick();
    window.setInterval(tick, 1000);
  });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "wallboard-pulse") { refresh(); }
  });
  document.addEventListener("htmx:wsOpen", function () {
    document.body.setAttribute("data-live", "open");
    refresh();
  });
  document.addEventListener("htmx:wsClose", function () { document.body.setAttribute("data-live", "closed"); });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.elt;
    if (target && target.id === "wallboard-board") { checkLevels(false); tick(); }
  });
}());
