/* Wallboard behaviour: the theme before first paint; reload the board on a live pulse or reconnect;
   tick wait timers while live; show a lost connection (banner, tiles greyed, timers stopped) and
   recover by itself; on an alert level change announce it politely and, if the user opted in on the
   alerts page, show a browser notification and play a short WebAudio beep.

   The lost-connection state follows the same socket events and wording as static/console.js (the
   other pages' live indicator); the wallboard has its own banner instead of the header's indicator. */
(function () {
  "use strict";

  var THEME_KEY = "supervisor-console-theme";  /* the console's theme choice, shared with static/console.js */
  var OPT_IN_KEY = "supervisor-console-alert-notifications";
  var CLEAN_CLOSE_CODES = [1000, 1001, 1005];  /* the ws extension does not retry these; a stopping server may send them */
  var SESSION_ENDED = 4001;
  var levels = {};
  var audio = null;
  var lostSince = null;

  /* ?theme=light|dark (a kiosk's URL) or the console's stored choice; dark otherwise. */
  (function applyTheme() {
    var chosen = null;
    var match = /[?&]theme=(light|dark)\b/.exec(window.location.search);
    if (match) { chosen = match[1]; } else {
      try { chosen = localStorage.getItem(THEME_KEY); } catch (e) { chosen = null; }
    }
    if (chosen === "light" || chosen === "dark") { document.documentElement.setAttribute("data-theme", chosen); }
  }());

  function pad(n) { return n < 10 ? "0" + n : "" + n; }

  function formatDuration(seconds) {
    var whole = Math.max(0, Math.floor(seconds));
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  function utcClock(date) {
    return pad(date.getUTCHours()) + ":" + pad(date.getUTCMinutes()) + ":" + pad(date.getUTCSeconds());
  }

  /* Timers count only while the figures are live: a lost connection freezes them with the rest. */
  function tick() {
    if (lostSince) { return; }
    var now = Date.now();
    document.querySelectorAll("[data-wb-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-wb-since"));
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

  /* Announce alert changes (the watcher's held levels), not every colour change of a figure. */
  function checkLevels(first) {
    var changes = [];
    document.querySelectorAll(".wb-tile[data-queue]").forEach(function (tile) {
      var queue = tile.getAttribute("data-queue");
      var level = tile.getAttribute("data-alert-level");
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

  function reconnectDelay(retries) {
    var base = Math.min(500 * Math.pow(2, retries), 5000);
    return base / 2 + Math.random() * base / 2;
  }

  /* ---- live connection ------------------------------------------------------------------- */

  function showLost(text) {
    var banner = document.getElementById("wallboard-lost");
    if (!banner) { return; }
    banner.textContent = text;
    banner.hidden = false;
  }

  function markLost(sessionEnded, reason) {
    document.body.setAttribute("data-live", "closed");
    if (!lostSince) {
      var board = document.getElementById("wallboard-board");
      var asOf = board ? Date.parse(board.getAttribute("data-as-of")) : NaN;
      lostSince = isNaN(asOf) ? new Date() : new Date(asOf);
      announce("Live updates lost, reconnecting. Figures shown are as of " + utcClock(lostSince) + " UTC.");
    }
    var paused = "Connection lost \u2014 figures paused since " + utcClock(lostSince) + " UTC.";
    showLost(sessionEnded ? paused + " " + (reason || "The session has ended.") + " Reload to sign in again."
                          : paused + " Reconnecting\u2026");
  }

  function markLive() {
    document.body.setAttribute("data-live", "open");
    var banner = document.getElementById("wallboard-lost");
    if (banner) { banner.hidden = true; banner.textContent = ""; }
    if (lostSince) { announce("Live updates are back."); }
    lostSince = null;
    refresh();
  }

  function onClose(event) {
    var code = event.detail && event.detail.event ? event.detail.event.code : 0;
    if (code === SESSION_ENDED) { markLost(true, event.detail.event.reason); return; }
    markLost(false);
    var wrapper = event.detail && event.detail.socketWrapper;
    if (CLEAN_CLOSE_CODES.indexOf(code) >= 0 && wrapper && document.body.contains(event.target)) {
      window.setTimeout(function () { wrapper.reconnect(); }, reconnectDelay(0));
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) { window.htmx.config.wsReconnectDelay = reconnectDelay; }
    checkLevels(true);
    tick();
    window.setInterval(tick, 1000);
  });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "wallboard-pulse") { refresh(); }
  });
  document.addEventListener("htmx:wsOpen", markLive);
  document.addEventListener("htmx:wsClose", onClose);
  document.addEventListener("htmx:wsError", function () { markLost(false); });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.elt;
    if (target && target.id === "wallboard-board") { checkLevels(false); tick(); }
  });
}());
