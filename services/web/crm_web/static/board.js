// The pipeline board: drag a card (SortableJS) or use its "Mover a…" menu to move a deal, in one
// POST to the web application with the card's version (If-Match at the API). The card moves at
// once; a conflict puts it where the server says it is and shows who changed what; the column
// totals are then read again from the server (the page never adds money up itself).
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board) { return; }
  var statusBox = document.getElementById("board-status");
  var alertBox = document.getElementById("board-alert");
  var dialog = document.getElementById("lose-dialog");
  var ZERO = "00000000-0000-0000-0000-000000000000";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  function say(text) { alertBox.textContent = ""; alertBox.classList.remove("shown"); statusBox.textContent = text; }
  function warn(text) { statusBox.textContent = ""; alertBox.textContent = text; alertBox.classList.add("shown"); }
  function columns() { return Array.prototype.slice.call(board.querySelectorAll(".board-column")); }
  // A card's deal id is its link's last segment (cards carry no other copy of it).
  function dealId(card) { return card.querySelector("a").getAttribute("href").split("/").pop(); }
  function listFor(stageId) { return board.querySelector('.board-cards[data-stage="' + stageId + '"]'); }

  // The menu offers every open stage but the card's own, then won and lost.
  function rebuildMenu(card) {
    var select = card.querySelector("form select");
    if (!select) { return; }
    var list = card.parentElement;
    var here = list ? list.getAttribute("data-stage") : "";
    var first = select.options[0];
    var won = select.querySelector('option[value="won"]');
    var lost = select.querySelector('option[value="lost"]');
    while (select.options.length) { select.remove(0); }
    select.add(first);
    columns().forEach(function (col, i) {
      if (col.getAttribute("data-stage") === here) { return; }
      var o = document.createElement("option");
      o.value = String(i);
      o.textContent = col.querySelector("h2").textContent;
      select.add(o);
    });
    select.add(won);
    select.add(lost);
    select.selectedIndex = 0;
  }

  function refreshTotals() {
    fetch(board.getAttribute("data-totals-url"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (totals) {
        if (!totals) { return; }
        Object.keys(totals).forEach(function (stageId) {
          var box = board.querySelector('[data-totals-for="' + stageId + '"]');
          if (box) { box.innerHTML = totals[stageId]; }
        });
      })
      .catch(function () { /* the totals stay as they were; the next page load shows them */ });
  }

  function putBack(card, from, index) {
    from.insertBefore(card, from.children[index] || null);
    rebuildMenu(card);
  }

  function send(card, to, reason, from, index) {
    var url = board.getAttribute("data-move-url").replace(ZERO, dealId(card));
    var body = new URLSearchParams();
    body.set("to", to);
    body.set("version", card.getAttribute("data-v"));
    if (reason) { body.set("reason", reason); }
    card.setAttribute("aria-busy", "true");
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: body
    }).then(function (res) {
      return res.json().catch(function () { return { ok: false }; }).then(function (data) { return [res, data]; });
    }).then(function (pair) {
      var res = pair[0], data = pair[1];
      card.removeAttribute("aria-busy");
      if (res.status === 401 || res.redirected) { window.location.reload(); return; }
      if (data.ok) {
        card.setAttribute("data-v", data.version);
        if (data.status !== "open") { card.remove(); } else { rebuildMenu(card); }
        say(data.message);
      } else if (data.conflict) {
        // The board agrees with the server: the card goes where the deal is now.
        if (data.version) { card.setAttribute("data-v", data.version); }
        var now = data.status === "open" ? listFor(data.stage_id) : null;
        if (now) { now.insertBefore(card, now.firstChild); rebuildMenu(card); } else { card.remove(); }
        warn(data.message);
      } else {
        putBack(card, from, index);
        warn(data.message || board.getAttribute("data-error-text"));
      }
      refreshTotals();
    }).catch(function () {
      card.removeAttribute("aria-busy");
      putBack(card, from, index);
      warn(board.getAttribute("data-error-text"));
    });
  }

  // Lost asks for the reason first; cancelling puts the card back.
  function askReason(card, done) {
    var reason = document.getElementById("lose-reason");
    var form = document.getElementById("lose-form");
    var cancel = document.getElementById("lose-cancel");
    document.getElementById("lose-deal").textContent = card.querySelector("a").textContent;
    reason.value = "";
    function finish(ok) {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) { dialog.close(); }
      done(ok ? reason.value.trim() : null);
    }
    function onSubmit(event) {
      event.preventDefault();
      if (!reason.value.trim()) { reason.focus(); return; }
      finish(true);
    }
    function onCancel(event) { event.preventDefault(); finish(false); }
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    reason.focus();
  }

  function move(card, to, from, index) {
    if (to === "lost") {
      askReason(card, function (reason) {
        if (reason === null) { putBack(card, from, index); card.querySelector("select").focus(); return; }
        send(card, "lost", reason, from, index);
      });
      return;
    }
    send(card, to, "", from, index);
  }

  function indexIn(list, card) { return Array.prototype.indexOf.call(list.children, card); }

  if (window.Sortable) {
    board.querySelectorAll(".board-cards").forEach(function (list) {
      window.Sortable.create(list, {
        group: "deals",
        animation: 120,
        forceFallback: true,
        fallbackTolerance: 4,
        filter: "select, button, input",
        preventOnFilter: false,
        onEnd: function (evt) {
          if (evt.from === evt.to) { return; }
          var outcome = evt.to.getAttribute("data-outcome");
          move(evt.item, outcome || evt.to.getAttribute("data-stage"), evt.from, evt.oldIndex);
        }
      });
    });
  }

  // The keyboard path: the card's menu and its button (Enter on the menu sends it too).
  board.addEventListener("submit", function (event) {
    var form = event.target.closest(".deal-card form");
    if (!form) { return; }
    event.preventDefault();
    var card = form.closest(".deal-card");
    var choice = form.querySelector("select").value;
    if (!choice) { return; }
    var from = card.parentElement, index = indexIn(from, card);
    var to = choice;
    if (/^[0-9]+$/.test(choice)) {
      var col = columns()[parseInt(choice, 10)];
      if (!col) { return; }
      to = col.getAttribute("data-stage");
      var list = listFor(to);
      list.insertBefore(card, list.firstChild);
    }
    move(card, to, from, index);
    var select = card.querySelector("select");
    if (select && document.body.contains(card)) { select.focus(); }
  });
  board.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.matches(".deal-card select")) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });
  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.requestSubmit(); });
  });
})();
