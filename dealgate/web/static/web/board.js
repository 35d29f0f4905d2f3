/* Dealgate board: native HTML5 drag and drop, a "Move to…" menu on each card for touch and keyboard,
 * and the top menu's closing behaviour (this file is loaded on every page).
 *
 * The server decides every move (the gate lives in the move service): a drop only asks it.
 * On success the server re-renders the two columns (out-of-band swap) and closes the panel;
 * on refusal the card stays where it was and the side panel lists what is missing.
 */
(function () {
  "use strict";
  var dragged = null;

  function boardPage() { return document.querySelector(".board-page"); }
  function boardQuery() { var b = boardPage(); return b ? b.dataset.boardQuery || "" : ""; }
  function panel() { return document.getElementById("panel"); }

  /* The side panel is a dialog while it shows something: focus moves into it, Tab stays in it, Escape or
   * its close button closes it and gives focus back to what opened it (the card, on the board). */
  var opener = null;

  function panelOpen() { var p = panel(); return !!(p && p.querySelector(".panel-inner")); }

  function closePanel() {
    var p = panel();
    if (!p) return;
    var wasOpen = panelOpen();
    p.innerHTML = "";
    p.removeAttribute("role");
    p.removeAttribute("aria-modal");
    p.removeAttribute("aria-labelledby");
    if (wasOpen && opener) {
      var back = (opener.id && document.getElementById(opener.id)) || opener;
      if (document.body.contains(back)) back.focus();
    }
    opener = null;
  }

  function focusables(root) {
    return Array.prototype.filter.call(
      root.querySelectorAll("a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select, textarea, summary, [tabindex='0']"),
      function (el) { return el.offsetParent !== null; });
  }

  document.addEventListener("htmx:beforeRequest", function (e) {
    var target = e.detail.target;
    if (!target || target.id !== "panel" || panelOpen()) return;
    var source = e.detail.elt;
    var card = source && source.closest && source.closest(".card");
    opener = card || document.activeElement;
  });

  document.addEventListener("htmx:afterSettle", function (e) {
    var p = panel();
    if (!p || e.detail.target !== p) return;
    if (!panelOpen()) { closePanel(); return; }
    var heading = p.querySelector(".panel-head h2");
    p.setAttribute("role", "dialog");
    p.setAttribute("aria-modal", "true");
    if (heading) {
      heading.id = heading.id || "panel-title";
      heading.setAttribute("tabindex", "-1");
      p.setAttribute("aria-labelledby", heading.id);
    }
    if (p.contains(document.activeElement) && document.activeElement !== document.body) return;
    var invalid = p.querySelector(".field-error, [role=alert]");
    (heading || p).focus();
    if (invalid) invalid.scrollIntoView({ block: "nearest" });
  });

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Tab" || !panelOpen()) return;
    var p = panel();
    var items = focusables(p);
    if (!items.length) return;
    var first = items[0], last = items[items.length - 1];
    if (!p.contains(document.activeElement)) { e.preventDefault(); first.focus(); }
    else if (e.shiftKey && (document.activeElement === first || document.activeElement.closest(".panel-head h2"))) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
  });

  function toast(text) {
    var t = document.getElementById("toast");
    if (!t) return;
    t.textContent = text;
    t.classList.add("show");
    clearTimeout(t._timer);
    t._timer = setTimeout(function () { t.classList.remove("show"); }, 2600);
  }

  function move(card, stageId) {
    card.classList.add("pending");
    return htmx.ajax("POST", "/deals/" + card.dataset.deal + "/move/", {
      source: card, target: "#panel", swap: "innerHTML",
      values: { to: stageId, expected: card.dataset.stage, origin: "board", board_query: boardQuery() }
    }).finally(function () {
      var still = document.getElementById(card.id);
      if (still) still.classList.remove("pending");
    });
  }

  function openPanel(card, mode, extra) {
    var url = "/deals/" + card.dataset.deal + "/panel/" + mode + "/?origin=board&board_query=" +
      encodeURIComponent(boardQuery()) + (extra || "");
    return htmx.ajax("GET", url, { source: card, target: "#panel", swap: "innerHTML" });
  }

  function dropTarget(el) { return el && el.closest ? el.closest(".column, .dropzone") : null; }

  function drop(card, target) {
    if (!card || !target) return;
    var kind = target.dataset.kind;
    if (kind === "won" || kind === "lost") { openPanel(card, kind); return; }
    if (target.dataset.stage === card.dataset.stage) return;
    move(card, target.dataset.stage);
  }

  document.addEventListener("dragstart", function (e) {
    var card = e.target.closest && e.target.closest(".card[draggable=true]");
    if (!card) return;
    dragged = card;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", card.dataset.deal);
    card.classList.add("dragging");
    document.body.classList.add("is-dragging");
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.body.classList.remove("is-dragging");
    document.querySelectorAll(".drop-over").forEach(function (el) { el.classList.remove("drop-over"); });
  });

  document.addEventListener("dragover", function (e) {
    var target = dragged && dropTarget(e.target);
    if (!target) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    if (!target.classList.contains("drop-over")) {
      document.querySelectorAll(".drop-over").forEach(function (el) { el.classList.remove("drop-over"); });
      target.classList.add("drop-over");
    }
  });

  document.addEventListener("drop", function (e) {
    var target = dragged && dropTarget(e.target);
    if (!target) return;
    e.preventDefault();
    var card = dragged;
    target.classList.remove("drop-over");
    drop(card, target);
  });

  /* Keyboard: M opens the move menu, Shift+Arrow moves one stage, Enter opens the deal. */
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && panelOpen()) { e.preventDefault(); closePanel(); return; }
    var card = e.target.closest && e.target.closest(".card");
    if (!card || e.target !== card) return;
    var columns = Array.prototype.slice.call(document.querySelectorAll(".board .column"));
    var index = columns.findIndex(function (c) { return c.dataset.stage === card.dataset.stage; });
    if (e.key === "Enter") { window.location = card.querySelector(".card-title").href; }
    else if ((e.key === "m" || e.key === "M") && card.getAttribute("draggable") === "true") {
      e.preventDefault();
      openPanel(card, "menu");
    }
    else if (e.shiftKey && (e.key === "ArrowRight" || e.key === "ArrowLeft")) {
      e.preventDefault();
      var next = columns[index + (e.key === "ArrowRight" ? 1 : -1)];
      if (next && card.getAttribute("draggable") === "true") move(card, next.dataset.stage);
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      var sibling = e.key === "ArrowDown" ? card.nextElementSibling : card.previousElementSibling;
      if (sibling && sibling.classList.contains("card")) { e.preventDefault(); sibling.focus(); }
    }
  });

  /* Touch and mouse: a card's "Move to…" button opens the same move menu as M; a tap anywhere else
   * on a card (not on a link, button or form) opens the deal page. */
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-close-panel]")) { closePanel(); return; }
    var card = e.target.closest(".board .card");
    if (!card) return;
    if (e.target.closest("[data-move-menu]")) { openPanel(card, "menu"); return; }
    if (e.target.closest("a, button, input, select, textarea, label, summary, form")) return;
    window.location = card.querySelector(".card-title").href;
  });

  /* The menu (a <details>): Escape or a tap outside it closes it. */
  function closeMenus(except) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (d) { if (d !== except) d.open = false; });
  }
  document.addEventListener("click", function (e) { closeMenus(e.target.closest && e.target.closest("details[data-menu]")); });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var open = document.querySelector("details[data-menu][open]");
    if (open) { open.open = false; open.querySelector("summary").focus(); }
  });

  /* A refused drop: the card did not move; shake it so the eye finds it. */
  document.addEventListener("htmx:afterRequest", function (e) {
    var source = e.detail.elt;
    var xhr = e.detail.xhr;
    if (source && source.classList && source.classList.contains("card") && xhr && xhr.status >= 400) {
      var card = document.getElementById(source.id) || source;
      card.classList.remove("refused");
      void card.offsetWidth;
      card.classList.add("refused");
    }
  });

  // A select marked data-navigate opens the page its chosen option names (the board's pipeline switch):
  // an event listener here, not an inline onchange, which the Content-Security-Policy refuses.
  document.addEventListener("change", function (e) {
    var select = e.target;
    if (select.matches && select.matches("select[data-navigate]") && select.value) location.href = select.value;
  });

  // "Load more" asks for the cards after those the column shows now: a drop takes a card out of a
  // column without drawing it again, so the offset the page was drawn with may be one too many.
  document.addEventListener("htmx:configRequest", function (e) {
    var more = e.detail.elt;
    if (!more || !more.classList || !more.classList.contains("load-more")) return;
    var list = more.closest("ol.cards");
    if (!list) return;
    e.detail.path = e.detail.path.replace(/([?&])offset=\d+/, "$1offset=" + list.querySelectorAll(".card").length);
  });

  document.addEventListener("dg:moved", function (e) {
    var card = document.getElementById("deal-" + e.detail.deal);
    toast(card ? "Moved “" + card.querySelector(".card-title").textContent + "”" : "Deal closed");
    if (card) { card.classList.add("landed"); card.focus(); }
  });
})();
