// The deal page: after a field saved in place (htmx), every other form of the page takes the
// deal's new version (the X-Deal-Version header), so the next change is not refused as stale;
// an edit form that opens takes the focus.
(function () {
  "use strict";
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    var version = xhr && xhr.getResponseHeader("X-Deal-Version");
    if (!version) { return; }
    document.querySelectorAll("input[data-deal-version]").forEach(function (input) { input.value = version; });
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.elt;
    var row = target && target.id && target.id.indexOf("row-") === 0 ? document.getElementById(target.id) : null;
    if (!row) { return; }
    var field = row.querySelector("[aria-invalid=true], input:not([type=hidden]), select");
    if (field) { field.focus(); } else {
      var edit = row.querySelector("a.button");
      if (edit) { edit.focus(); }
    }
  });
})();
