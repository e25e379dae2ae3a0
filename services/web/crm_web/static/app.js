// The little JavaScript every page needs (no inline script: the CSP allows only this site's files).
// Pages work without it; it adds the CSRF header to htmx requests and a few conveniences.
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  // htmx requests that change something carry the CSRF token as a header (Flask-WTF reads X-CSRFToken).
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });
  document.addEventListener("DOMContentLoaded", function () {
    // Move focus to an error summary so a screen reader announces it (GOV.UK pattern).
    var summary = document.querySelector("[data-autofocus]");
    if (summary) { summary.focus(); }
    document.querySelectorAll("[data-select-on-focus]").forEach(function (el) {
      el.addEventListener("focus", function () { el.select(); });
    });
    // Close the user menu when clicking elsewhere or pressing Escape.
    var menu = document.querySelector(".user-menu");
    document.addEventListener("click", function (event) {
      if (menu && menu.open && !menu.contains(event.target)) { menu.open = false; }
      var popup = document.getElementById("search-popup");
      if (popup && !event.target.closest(".global-search")) { popup.innerHTML = ""; }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") { return; }
      if (menu) { menu.open = false; }
      var popup = document.getElementById("search-popup");
      if (popup) { popup.innerHTML = ""; }
    });
  });
})();
