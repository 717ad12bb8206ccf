/* Login setting dialog: tabs without reloads (arrow keys, Home/End), copy buttons.
   Every action also works without this script. */
(function () {
  "use strict";
  function initTabs(form) {
    var tabs = Array.prototype.slice.call(form.querySelectorAll('[role="tab"]'));
    var tabField = form.querySelector('input[name="tab"]');
    function select(tab, focus) {
      tabs.forEach(function (t) {
        var on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        t.tabIndex = on ? 0 : -1;
        var panel = document.getElementById(t.getAttribute("aria-controls"));
        if (panel) { panel.hidden = !on; }
      });
      if (tabField) { tabField.value = tab.getAttribute("data-tab"); }
      if (focus) { tab.focus(); }
      if (window.history && window.history.replaceState) {
        window.history.replaceState(null, "", "?tab=" + encodeURIComponent(tab.getAttribute("data-tab")));
      }
    }
    tabs.forEach(function (tab, index) {
      tab.addEventListener("click", function (event) { event.preventDefault(); select(tab, true); });
      tab.addEventListener("keydown", function (event) {
        var next = null;
        if (event.key === "ArrowRight") { next = tabs[(index + 1) % tabs.length]; }
        else if (event.key === "ArrowLeft") { next = tabs[(index - 1 + tabs.length) % tabs.length]; }
        else if (event.key === "Home") { next = tabs[0]; }
        else if (event.key === "End") { next = tabs[tabs.length - 1]; }
        if (next) { event.preventDefault(); select(next, true); }
      });
    });
  }
  function initCopy(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-copy]"), function (button) {
      if (!navigator.clipboard) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        var input = document.getElementById(button.getAttribute("data-copy"));
        navigator.clipboard.writeText(input.value).then(function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = "Copy"; }, 2000);
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("login-settings-form");
    if (form) { initTabs(form); initCopy(form); }
  });
})();
