// Staff pages: keyboard helpers for the intake form. Everything works without this file;
// it only saves keystrokes (Ctrl+Enter submits from the text box, the company fields
// appear and join the tab order only when the requester is a company).
(function () {
  "use strict";

  function toggleCompany(select) {
    var target = document.getElementById(select.getAttribute("data-company-toggle"));
    if (!target) return;
    var company = select.value === "company";
    target.hidden = !company;
    target.disabled = !company; // disabled fields are neither tabbed to nor submitted
  }

  // Coming back with the browser's Back button shows the page as it was left: let 受理 work.
  window.addEventListener("pageshow", function () {
    var buttons = document.querySelectorAll("#intake-form button[type=submit]");
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
  });

  document.addEventListener("DOMContentLoaded", function () {
    var kinds = document.querySelectorAll("[data-company-toggle]");
    Array.prototype.forEach.call(kinds, function (select) {
      toggleCompany(select);
      select.addEventListener("change", function () { toggleCompany(select); });
    });

    var form = document.getElementById("intake-form");
    if (form) {
      form.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.tagName === "TEXTAREA") {
          event.preventDefault();
          if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
        }
      });
      // One press of 受理 is enough: a second while the first is on its way is ignored
      // (the idempotency key would also keep it from opening a second ticket).
      form.addEventListener("submit", function () {
        var button = form.querySelector("button[type=submit]");
        if (button) { setTimeout(function () { button.disabled = true; }, 0); }
      });
    }
  });
})();
