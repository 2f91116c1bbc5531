// Every page of the portal. After a failed submit, focus goes to the error summary, whose links move focus to
// their fields (a fragment link alone would scroll without moving focus to an input, and hide its label).
// A table that scrolls sideways in its box on a phone can be focused, so the keyboard scrolls it.
(function () {
  "use strict";
  function fieldOf(link) {
    var id = decodeURIComponent(link.hash.slice(1));
    return id ? document.getElementById(id) : null;
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-error-summary] a[href^='#']");
    var field = link && fieldOf(link);
    if (!field) {
      return;
    }
    event.preventDefault();
    var label = document.querySelector("label[for='" + field.id + "']") || field.closest("label") || field;
    label.scrollIntoView({ block: "start" });
    field.focus({ preventScroll: true });
  });
  // A table wider than a phone scrolls inside its own box: the keyboard must be able to scroll it too.
  function scrollersFocusable() {
    document.querySelectorAll("table.list").forEach(function (table) {
      if (table.scrollWidth > table.clientWidth) {
        table.setAttribute("tabindex", "0");
      } else {
        table.removeAttribute("tabindex");
      }
    });
  }
  window.addEventListener("resize", scrollersFocusable);
  function arrive() {
    scrollersFocusable();
    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", arrive);
  } else {
    arrive();
  }
})();
