/* Supervisor console behaviour: theme, ticking timers, wait levels, live connection state,
   announcements, the conference filter. Loaded in <head> so the theme is set before first paint. */
(function () {
  "use strict";

  var THEME_KEY = "supervisor-console-theme";
  var root = document.documentElement;

  function storedTheme() {
    try { return localStorage.getItem(THEME_KEY); } catch (e) { return null; }
  }
  var initialTheme = storedTheme();
  if (initialTheme === "dark" || initialTheme === "light") { root.setAttribute("data-theme", initialTheme); }

  function currentTheme() {
    var chosen = root.getAttribute("data-theme");
    if (chosen) { return chosen; }
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function showTheme() {
    var button = document.getElementById("theme-toggle");
    if (!button) { return; }
    var dark = currentTheme() === "dark";
    button.setAttribute("aria-pressed", dark ? "true" : "false");
  }

  function toggleTheme() {
    var next = currentTheme() === "dark" ? "light" : "dark";
    root.setAttribute("data-theme", next);
    try { localStorage.setItem(THEME_KEY, next); } catch (e) { /* private mode: not remembered */ }
    showTheme();
  }

  /* ---- time ------------------------------------------------------------------------------ */

  function pad(n) { return n < 10 ? "0" + n : "" + n; }

  function formatDuration(seconds) {
    var whole = Math.max(0, Math.floor(seconds));
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  function localClock(date) {
    return pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  }

  function announce(text) {
    var region = document.getElementById("announcer");
    if (!region || !text) { return; }
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  var announcedWaits = new Set();

  function waitLevel(el, seconds) {
    var warn = parseFloat(el.getAttribute("data-warn"));
    var critical = parseFloat(el.getAttribute("data-critical"));
    if (!isNaN(critical) && seconds >= critical) { return "critical"; }
    if (!isNaN(warn) && seconds >= warn) { return "warn"; }
    return "ok";
  }

  function tick(scope, announceCrossings) {
    var now = Date.now();
    (scope || document).querySelectorAll("[data-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-since"));
      if (isNaN(since)) { return; }
      var seconds = (now - since) / 1000;
      var text = formatDuration(seconds);
      if (el.textContent !== text) { el.textContent = text; }
      if (el.hasAttribute("data-warn")) {
        var level = waitLevel(el, seconds);
        var before = el.getAttribute("data-level");
        if (before !== level) {
          el.setAttribute("data-level", level);
          el.setAttribute("title", level === "ok" ? "Waiting" : level === "warn" ? "Long wait" : "Very long wait");
          var key = el.getAttribute("data-announce") + "@" + el.getAttribute("data-since");
          if (announceCrossings && before && level === "critical" && el.hasAttribute("data-announce") && !announcedWaits.has(key)) {
            announcedWaits.add(key);
            announce(el.getAttribute("data-announce"));
          }
        }
      }
    });
  }

  function localTimes(scope) {
    (scope || document).querySelectorAll("time[data-local-time]").forEach(function (el) {
      var moment = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(moment)) { el.textContent = localClock(new Date(moment)); }
    });
  }

  /* ---- live connection ------------------------------------------------------------------- */

  var CLEAN_CLOSE_CODES = [1000, 1001, 1005];
  var TRY_AGAIN_LATER = 1013;  /* too many live pages open: say so; the ws extension retries by itself */
  var SESSION_ENDED = 4001;  /* the server ended this page's session: say why, offer to sign in, do not reconnect */
  var LOSS_ANNOUNCE_MS = 3000;
  var lostAt = null;
  var lossNotice = null;

  function setLiveState(state, label) {
    var box = document.getElementById("live-state");
    if (!box) { return; }
    box.setAttribute("data-state", state);
    box.querySelector(".live-label").textContent = label;
  }

  function markDataFresh() {
    var stamp = document.getElementById("data-as-of");
    if (!stamp) { return; }
    var now = new Date();
    stamp.setAttribute("datetime", now.toISOString());
    stamp.textContent = localClock(now);
  }

  /* Distributed mode: while the instance cannot follow Redis, the server puts a "Data paused" banner
     in #data-paused-slot (on the page, or pushed). The socket itself is fine, so without this the
     pill would still say "Live" and the "data as of" clock would keep ticking on frozen data. */
  function dataPaused() {
    var paused = !!document.getElementById("data-paused-banner");
    var box = document.getElementById("live-state");
    if (paused) {
      setLiveState("paused", "Data paused");
    } else if (box && box.getAttribute("data-state") === "paused") {
      setLiveState("live", "Live");
    }
    return paused;
  }

  function reconnectDelay(retries) {
    var base = Math.min(500 * Math.pow(2, retries), 5000);
    return base / 2 + Math.random() * base / 2;
  }

  if (window.htmx) { htmx.config.wsReconnectDelay = reconnectDelay; }

  /* A short blip stays silent; a connection lost for a few seconds is announced once. */
  function noteLoss() {
    if (lostAt) { return; }
    lostAt = Date.now();
    lossNotice = window.setTimeout(function () {
      var stamp = document.getElementById("data-as-of");
      announce("Live updates lost, reconnecting. Figures shown are as of " + (stamp ? stamp.textContent : "earlier") + ".");
    }, LOSS_ANNOUNCE_MS);
  }

  /* The login page under the console's prefix: the socket's path with /live swapped for /login. */
  function loginUrl() {
    var socketPath = (document.body.getAttribute("ws-connect") || "/live").split("?")[0];
    var here = window.location.pathname + window.location.search;
    return socketPath.replace(/\/live$/, "/login") + "?next=" + encodeURIComponent(here);
  }

  function showSessionEnded(reason) {
    setLiveState("ended", "Signed out");
    if (document.getElementById("session-ended-banner")) { return; }
    var banner = document.createElement("p");
    banner.id = "session-ended-banner";
    banner.className = "access-banner access-session-ended";
    banner.setAttribute("role", "alert");
    banner.textContent = (reason || "Your session has ended.") + " Live updates have stopped. ";
    var link = document.createElement("a");
    link.href = loginUrl();
    link.textContent = "Sign in again";
    banner.appendChild(link);
    var main = document.getElementById("main");
    document.body.insertBefore(banner, main && main.parentNode === document.body ? main : document.body.firstChild);
  }

  function showTooManyPages(reason) {
    setLiveState("reconnecting", "Too many pages open");
    var banner = document.getElementById("too-many-pages-banner");
    if (!banner) {
      banner = document.createElement("p");
      banner.id = "too-many-pages-banner";
      banner.className = "access-banner";
      banner.setAttribute("role", "status");
      var main = document.getElementById("main");
      document.body.insertBefore(banner, main && main.parentNode === document.body ? main : document.body.firstChild);
    }
    banner.textContent = (reason || "Too many live pages are open.") + " Live updates are paused on this page.";
  }

  function clearTooManyPages() {
    var banner = document.getElementById("too-many-pages-banner");
    if (banner) { banner.parentNode.removeChild(banner); }
  }

  function onLiveEvent(evt) {
    switch (evt.type) {
      case "htmx:wsConnecting":
        if (lostAt) { setLiveState("reconnecting", "Reconnecting…"); }
        break;
      case "htmx:wsOpen":
        setLiveState("live", "Live");
        dataPaused();
        clearTooManyPages();
        if (lostAt && Date.now() - lostAt > LOSS_ANNOUNCE_MS) { announce("Live updates are back."); }
        lostAt = null;
        window.clearTimeout(lossNotice);
        lossNotice = null;
        break;
      case "htmx:wsClose":
        var code = evt.detail && evt.detail.event ? evt.detail.event.code : 0;
        if (code === SESSION_ENDED) {
          showSessionEnded(evt.detail.event.reason);
          break;
        }
        if (code === TRY_AGAIN_LATER) {
          noteLoss();
          showTooManyPages(evt.detail.event.reason);
          break;
        }
        noteLoss();
        setLiveState("reconnecting", "Reconnecting…");
        var wrapper = evt.detail && evt.detail.socketWrapper;
        // The ws extension only retries abnormal closes; a clean close by a server going away must
        // not leave the page silently frozen, so retry those too (never a refusal such as 1008).
        if (CLEAN_CLOSE_CODES.indexOf(code) >= 0 && wrapper && document.body.contains(evt.target)) {
          window.setTimeout(function () { wrapper.reconnect(); }, reconnectDelay(0));
        }
        break;
      case "htmx:wsError":
        noteLoss();
        setLiveState("reconnecting", "Reconnecting…");
        break;
    }
  }

  /* ---- out-of-band swaps ----------------------------------------------------------------- */

  var focusedId = null;

  function beforeMessage() {
    var active = document.activeElement;
    focusedId = active && active !== document.body && active.id ? active.id : null;
  }

  function afterMessage(evt) {
    document.body.setAttribute("data-synced", "");
    freezeEnded();
    if (!dataPaused()) { markDataFresh(); }
    tick(document, false);
    localTimes(document);
    refreshCounts();
    applyFilters();
    if (focusedId && (!document.activeElement || document.activeElement === document.body)) {
      var again = document.getElementById(focusedId);
      if (again) { again.focus({ preventScroll: true }); }
    }
  }

  /* Announce only what a supervisor must not miss: a conference ending (its row removed from the
     dashboard, or its page header turning to "Ended"). Waits are announced by tick(). */
  function beforeOobSwap(evt) {
    var fragment = evt.detail && evt.detail.fragment;
    var target = evt.detail && evt.detail.target;
    if (!fragment || !target) { return; }
    var incoming = fragment.getAttribute ? fragment : fragment.firstElementChild;
    if (!incoming) { return; }
    if (incoming.getAttribute("data-gone") && target.classList.contains("conference-row")) {
      announce(target.getAttribute("data-gone-notice"));
    } else if (target.classList.contains("conference-head") && target.getAttribute("data-status") !== "completed" &&
               incoming.getAttribute("data-status") === "completed") {
      announce(incoming.getAttribute("data-ended-notice"));
    }
  }

  /* ---- forms htmx has not wired yet ------------------------------------------------------ */

  /* htmx wires content it swaps in when that content settles (20 ms later, more on a busy machine).
     A click in between would post the form natively: a full page load, and a page that was live is
     gone. htmx cancels every submit it handles, so one that reaches the document uncancelled, from a
     form meant for htmx, is held back and replayed once htmx has wired the form. */
  var HTMX_POST = "[hx-post], [data-hx-post]";
  var replaying = new WeakSet();

  function holdNativeSubmit(evt) {
    var form = evt.target;
    if (evt.defaultPrevented || !window.htmx || !form || form.tagName !== "FORM") { return; }
    var submitter = evt.submitter || null;
    if (!form.matches(HTMX_POST) && !(submitter && submitter.matches(HTMX_POST))) { return; }
    evt.preventDefault();
    if (replaying.has(form)) { return; }  /* htmx refused it even wired: never post it natively */
    replaying.add(form);
    htmx.process(form);
    window.setTimeout(function () {  /* after this submit event: a form ignores a submit inside its own */
      try {
        if (!document.body.contains(form)) { return; }
        if (submitter && form.contains(submitter)) { submitter.click(); } else { form.requestSubmit(); }
      } finally {
        replaying.delete(form);
      }
    }, 0);
  }

  /* ---- an ended conference --------------------------------------------------------------- */

  /* Once a conference page's header says it ended (on load, or pushed live), nothing on the page
     can act on it: the server replaces its controls, and anything still on screen is disabled. */
  function freezeEnded() {
    var head = document.querySelector(".conference-head[data-status='completed']");
    var page = head && head.closest("#conference-page");
    if (!page) { return; }
    page.querySelectorAll("button, input, select, textarea").forEach(function (control) {
      if (!control.disabled) { control.disabled = true; }
    });
  }

  /* ---- counts and filter ----------------------------------------------------------------- */

  /* ---- phone cards: each cell says what it is ------------------------------------------- */

  /* On a phone the tables become stacked cards and their headings are hidden, so each cell is given
     its column's heading (data-label); the CSS shows it above the value at that width only. The
     page is labelled once when it loads; after that only what a swap brought in is, so a live
     message costs the rows it carries, not every row on the page. */
  function labelRows(table, rows) {
    var head = table.tHead && table.tHead.rows[0];
    if (!head) { return; }
    var names = Array.prototype.map.call(head.cells, function (cell) { return cell.textContent.replace(/\s+/g, " ").trim(); });
    Array.prototype.forEach.call(rows, function (row) {
      if (row.parentNode.tagName !== "TBODY") { return; }
      Array.prototype.forEach.call(row.cells, function (cell, index) {
        if (names[index] && cell.tagName === "TD" && !cell.hasAttribute("data-label")) {
          cell.setAttribute("data-label", names[index]);
        }
      });
    });
  }

  function labelCells(scope) {
    var root = scope || document.body;
    if (!root || root.nodeType !== 1) { return; }
    var around = root.closest("table.grid");
    if (around) { labelRows(around, root.tagName === "TR" ? [root] : root.querySelectorAll("tr")); }
    root.querySelectorAll("table.grid").forEach(function (table) { labelRows(table, table.querySelectorAll("tr")); });
  }

  function refreshCounts() {
    document.querySelectorAll("[data-count-of]").forEach(function (badge) {
      var list = document.getElementById(badge.getAttribute("data-count-of"));
      if (!list) { return; }
      badge.textContent = String(list.children.length);
      list.toggleAttribute("data-empty", list.children.length === 0);
    });
  }

  function applyFilters() {
    document.querySelectorAll("input[data-filter-rows]").forEach(function (input) {
      var body = document.getElementById(input.getAttribute("data-filter-rows"));
      if (!body) { return; }
      var query = input.value.trim().toLowerCase();
      var shown = 0, total = body.children.length;
      Array.prototype.forEach.call(body.children, function (row) {
        var text = (row.getAttribute("data-filter") || row.textContent).toLowerCase();
        var match = !query || text.indexOf(query) >= 0;
        row.hidden = !match;
        if (match) { shown += 1; }
      });
      var status = document.getElementById(input.id + "-status");
      if (status) { status.textContent = query ? shown + " of " + total + " shown" : ""; }
    });
  }

  function onKey(evt) {
    if (evt.key !== "/" || evt.ctrlKey || evt.metaKey || evt.altKey) { return; }
    var tag = (document.activeElement && document.activeElement.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") { return; }
    var filter = document.querySelector("input[data-filter-rows]");
    if (filter) { evt.preventDefault(); filter.focus(); filter.select(); }
  }

  /* ---- start ----------------------------------------------------------------------------- */

  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) { htmx.config.wsReconnectDelay = reconnectDelay; }
    showTheme();
    var button = document.getElementById("theme-toggle");
    if (button) { button.addEventListener("click", toggleTheme); }
    ["htmx:wsConnecting", "htmx:wsOpen", "htmx:wsClose", "htmx:wsError"].forEach(function (name) {
      document.addEventListener(name, onLiveEvent);
    });
    document.addEventListener("htmx:wsBeforeMessage", beforeMessage);
    document.addEventListener("htmx:wsAfterMessage", afterMessage);
    document.addEventListener("htmx:oobBeforeSwap", beforeOobSwap);
    document.addEventListener("htmx:oobAfterSwap", function (evt) { labelCells(evt.target); });
    document.addEventListener("htmx:afterSwap", function () { tick(document, false); localTimes(document); refreshCounts(); labelCells(); applyFilters(); freezeEnded(); });
    document.addEventListener("submit", holdNativeSubmit);
    document.addEventListener("input", function (evt) {
      if (evt.target.matches && evt.target.matches("input[data-filter-rows]")) { applyFilters(); }
    });
    document.addEventListener("keydown", onKey);
    tick(document, false);
    localTimes(document);
    labelCells();
    applyFilters();
    freezeEnded();
    dataPaused();
    window.setInterval(function () { tick(document, true); }, 1000);
  });
})();
