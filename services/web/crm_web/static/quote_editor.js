// The quote editor's few conveniences (the totals themselves come from the server as the user
// types, through htmx; nothing is computed here). Enter in the product search searches instead
// of posting the whole quote, and a line just added gets the focus on its quantity.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target && event.target.id === "product-q" && window.htmx) {
      event.preventDefault();
      window.htmx.trigger(event.target, "search");
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "quote-lines") { return; }
    var trigger = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (trigger && trigger.name === "add_product") {
      var inputs = document.querySelectorAll("#quote-lines input[name$='.quantity']");
      if (inputs.length) { inputs[inputs.length - 1].focus(); inputs[inputs.length - 1].select(); }
    } else {
      var search = document.getElementById("product-q");
      if (search) { search.focus(); }
    }
  });
})();
