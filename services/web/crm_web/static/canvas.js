// The canvas board's drag and drop (SortableJS, from /assets/Sortable.min.js): a note dragged
// within or between blocks is saved at once as the signed-in user (POST .../move with the note's
// version; the server sends PATCH with If-Match to the API). Without JavaScript, or from the
// keyboard, each note's "Mover a…" menu does the same with a form. No inline script (CSP).
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  function say(text) {
    var status = document.getElementById("canvas-status");
    if (status) { status.textContent = text; }
  }
  function recount(board) {
    board.querySelectorAll(".block").forEach(function (block) {
      var count = block.querySelector("[data-count]");
      var list = block.querySelector("[data-notes]");
      if (count && list) { count.textContent = String(list.querySelectorAll(".note").length); }
    });
  }
  function applyChanges(board, notes) {
    Object.keys(notes || {}).forEach(function (id) {
      var el = document.getElementById("note-" + id);
      if (!el) { return; }
      var change = notes[id];
      el.setAttribute("data-version", String(change.version));
      el.querySelectorAll('input[name="version"]').forEach(function (input) { input.value = String(change.version); });
      var select = el.querySelector('select[name="block"]');
      if (select) { select.value = change.block; }
    });
  }
  function moved(board, event) {
    var note = event.item;
    if (event.from === event.to && event.oldIndex === event.newIndex) { return; }
    var list = event.to;
    var position = Array.prototype.indexOf.call(list.querySelectorAll(".note"), note);
    var body = new URLSearchParams();
    body.set("block", list.getAttribute("data-block"));
    body.set("position", String(position));
    body.set("version", note.getAttribute("data-version"));
    recount(board);
    say(board.getAttribute("data-msg-saving"));
    board.setAttribute("aria-busy", "true");
    fetch(note.getAttribute("data-move-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
      body: body
    }).then(function (res) {
      return res.json().then(function (data) { return { ok: res.ok, data: data }; }, function () {
        return { ok: false, data: {} };
      });
    }).then(function (answer) {
      board.removeAttribute("aria-busy");
      applyChanges(board, answer.data.notes);
      if (answer.ok) {
        say(answer.data.message || "");
        return;
      }
      // Someone else changed the note (or the platform did not answer): show the board as saved.
      say(answer.data.message || board.getAttribute("data-msg-failed"));
      window.setTimeout(function () { window.location.reload(); }, 1800);
    }, function () {
      board.removeAttribute("aria-busy");
      say(board.getAttribute("data-msg-failed"));
      window.setTimeout(function () { window.location.reload(); }, 1800);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var board = document.querySelector("[data-canvas-board]");
    if (!board || !window.Sortable) { return; }
    board.querySelectorAll("[data-notes]").forEach(function (list) {
      window.Sortable.create(list, {
        group: "canvas-notes",
        handle: "[data-drag-handle]",
        draggable: ".note",
        animation: 120,
        forceFallback: true,
        fallbackOnBody: true,
        onEnd: function (event) { moved(board, event); }
      });
    });
  });
})();
