/* The agent board: filter by team and state, sort by time in state (after every live push too),
   ask before barging in, and fetch the board again when a wrap-up ends (no event marks that). */
(function () {
  "use strict";

  var wrapTimer = null;

  function value(selector) {
    var el = document.querySelector(selector);
    return el ? el.value : "";
  }

  function arrange() {
    var list = document.getElementById("agent-cards");
    if (!list) { return; }
    var team = value("[data-agent-filter='team']");
    var state = value("[data-agent-filter='state']");
    var sort = value("[data-agent-sort]");
    var cards = Array.prototype.slice.call(list.querySelectorAll(".agent-card"));
    var shown = 0;
    cards.forEach(function (card) {
      var match = (!team || card.getAttribute("data-team") === team) && (!state || card.getAttribute("data-state") === state);
      card.hidden = !match;
      if (match) { shown += 1; }
    });
    if (sort === "longest" || sort === "shortest") {
      var far = sort === "longest" ? Infinity : -Infinity;
      var since = function (card) {
        var at = Date.parse(card.getAttribute("data-state-since") || "");
        return isNaN(at) ? far : at;
      };
      cards.sort(function (a, b) { return sort === "longest" ? since(a) - since(b) : since(b) - since(a); });
    } else {
      cards.sort(function (a, b) { return a.getAttribute("data-name").localeCompare(b.getAttribute("data-name")); });
    }
    cards.forEach(function (card) { list.appendChild(card); });
    var status = document.getElementById("agent-filter-status");
    if (status) { status.textContent = team || state ? shown + " of " + cards.length + " shown" : ""; }
    scheduleWrapUpEnd();
  }

  function scheduleWrapUpEnd() {
    var board = document.getElementById("agent-board");
    if (wrapTimer) { clearTimeout(wrapTimer); wrapTimer = null; }
    if (!board || !window.htmx) { return; }
    var counts = document.getElementById("agent-counts");
    var until = Date.parse((counts && counts.getAttribute("data-wrap-until")) || "");
    if (isNaN(until)) { return; }
    wrapTimer = setTimeout(function () { htmx.trigger(board, "agents:refresh"); }, Math.max(until - Date.now(), 0) + 250);
  }

  /* A card drawn by a live push carries no token of this session: take the page's own (the one htmx sends). */
  function pageToken() {
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      return headers["X-CSRF-Token"] || null;
    } catch (error) {
      return null;
    }
  }

  function submitAction(evt) {
    var form = evt.target;
    if (!form || !form.classList || !form.classList.contains("agent-action")) { return; }
    var question = form.getAttribute("data-barge-confirm-text");
    if (question && !window.confirm(question)) { evt.preventDefault(); return; }
    var token = pageToken();
    var field = form.querySelector("input[name='csrf_token']");
    if (token && !field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "csrf_token";
      form.appendChild(field);
    }
    if (token) { field.value = token; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-agent-filter], [data-agent-sort]").forEach(function (select) {
      select.addEventListener("change", arrange);
    });
    document.addEventListener("submit", submitAction);
    document.body.addEventListener("htmx:wsAfterMessage", arrange);
    document.body.addEventListener("htmx:afterSwap", arrange);
    arrange();
  });
})();
