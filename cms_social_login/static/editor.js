/* The Login setting dialog, enhanced: tabs without reloads (arrow keys, Home/End), a copy
   button for the callback URL, and OK / Apply sent with fetch so the page is not reloaded.
   Every action also works without this script: the buttons are plain form submits. */
(function () {
  "use strict";

  /* Actions answered in place (OK, Apply, a tab's Verify and Show it); Preview, Save and
     Test login navigate. Tabs switch without a request (without this script a tab is a
     submit button, so the typed values come along). */
  function inPlace(action) {
    return action === "ok" || action === "apply" || /^(verify|show)-/.test(action || "");
  }

  function all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  function announce(text) {
    var region = document.getElementById("editor-announcer");
    if (!region || !text) { return; }
    region.textContent = "";
    /* A fresh text node after a tick, so the same message is announced again. */
    window.setTimeout(function () { region.textContent = text; }, 60);
  }

  /* ------------------------------------------------------------------ tabs */

  /* The tab list stands vertical on wide screens (see the stylesheet): say so to assistive
     technology. All four arrow keys work either way. */
  var wideScreen = window.matchMedia ? window.matchMedia("(min-width: 48rem)") : null;

  function orientTablists() {
    var vertical = !!(wideScreen && wideScreen.matches);
    all('[role="tablist"]').forEach(function (list) {
      list.setAttribute("aria-orientation", vertical ? "vertical" : "horizontal");
    });
  }

  function initTabs(form) {
    var tabs = all('[role="tab"]', form);
    var tabField = form.querySelector('input[name="tab"]');
    if (!tabs.length) { return; }

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
        window.history.replaceState(window.history.state, "",
          "?tab=" + encodeURIComponent(tab.getAttribute("data-tab")));
      }
    }

    orientTablists();

    tabs.forEach(function (tab, index) {
      tab.addEventListener("click", function (event) {
        event.preventDefault();
        select(tab, true);
      });
      tab.addEventListener("keydown", function (event) {
        if (event.altKey || event.ctrlKey || event.metaKey) { return; }
        var next = null;
        switch (event.key) {
          case "ArrowRight": case "ArrowDown": next = tabs[(index + 1) % tabs.length]; break;
          case "ArrowLeft": case "ArrowUp": next = tabs[(index - 1 + tabs.length) % tabs.length]; break;
          case "Home": next = tabs[0]; break;
          case "End": next = tabs[tabs.length - 1]; break;
          case " ": case "Enter": next = tab; break;
        }
        if (next) {
          event.preventDefault();
          select(next, true);
        }
      });
    });

    /* Links of the error summary open the field's tab before moving to the field. */
    all("[data-tab-target]", form.closest("main") || document).forEach(function (link) {
      link.addEventListener("click", function (event) {
        var tab = document.getElementById("tab-" + link.getAttribute("data-tab-target"));
        var target = document.getElementById(link.getAttribute("href").slice(1));
        if (!tab || !target) { return; }
        event.preventDefault();
        select(tab, false);
        target.focus();
      });
    });
  }

  /* ------------------------------------------------------------------ copy */

  function copyText(input) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(input.value);
    }
    return new Promise(function (resolve, reject) {
      input.focus();
      input.select();
      try {
        if (document.execCommand("copy")) { resolve(); } else { reject(new Error("copy")); }
      } catch (error) { reject(error); }
    });
  }

  function initCopy(root) {
    all("[data-copy]", root).forEach(function (button) {
      var input = document.getElementById(button.getAttribute("data-copy"));
      if (!input) { return; }
      var label = button.textContent;
      var timer = null;
      button.hidden = false;
      button.addEventListener("click", function () {
        copyText(input).then(function () {
          button.textContent = "Copied";
          announce("Callback URL copied.");
        }, function () {
          input.focus();
          input.select();
          button.textContent = "Select";
          announce("The callback URL is selected: press Control+C to copy it.");
        }).then(function () {
          window.clearTimeout(timer);
          timer = window.setTimeout(function () { button.textContent = label; }, 2000);
        });
      });
    });
  }

  /* ------------------------------------------------------------------ OK / Apply in place */

  function plainSubmit(form, submitter) {
    /* The old-fashioned way: a real POST with the pressed button's value. */
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = submitter.name;
    field.value = submitter.value;
    form.appendChild(field);
    HTMLFormElement.prototype.submit.call(form);
  }

  function swapIn(html, url, action) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("main");
    var main = document.getElementById("main");
    if (!fresh || !main || !doc.getElementById("login-settings-form")) { return false; }
    var nodes = Array.prototype.slice.call(fresh.childNodes).map(function (node) {
      return document.adoptNode(node);
    });
    main.replaceChildren.apply(main, nodes);
    if (doc.title) { document.title = doc.title; }
    if (url && window.history && window.history.replaceState) {
      var target = new URL(url, window.location.href);
      if (target.origin === window.location.origin && target.search) {
        window.history.replaceState(window.history.state, "", target.pathname + target.search);
      }
    }
    try {
      afterSwap(main, action);
    } catch (error) {
      if (window.console) { window.console.error(error); }
    }
    return true;
  }

  function afterSwap(main, action) {
    var form = document.getElementById("login-settings-form");
    enhance(form);

    var invalid = main.querySelector('[aria-invalid="true"]');
    var problem = main.querySelector('[role="alert"]');
    if (invalid || problem) {
      /* The error summary (role=alert) is announced as it arrives; focus goes to the
         first field to correct, or to the summary when no field is marked. */
      if (invalid) {
        invalid.focus();
      } else {
        problem.tabIndex = -1;
        problem.focus();
      }
      return;
    }
    /* Success: the messages are read from the live region that stayed in place. */
    var messages = all('.alert[role="status"]', main).map(function (alert) {
      alert.removeAttribute("role");
      return alert.textContent.replace(/\s+/g, " ").trim();
    });
    announce(messages.join(" "));
    var again = form && all('button[name="action"]', form).filter(function (button) {
      return button.value === action && button.getAttribute("aria-hidden") !== "true";
    })[0];
    if (again) {
      again.focus();
    } else if (/^show-/.test(action || "")) {
      /* "Show it" is gone once done: focus moves to the switch it turned on. */
      var name = action.slice("show-".length);
      var toggle = document.getElementById(name + "-enabled");
      if (toggle) { toggle.focus(); }
    }
  }

  function initSubmit(form) {
    var lastPressed = null;
    var busy = false;
    all('button[type="submit"]', form).forEach(function (button) {
      button.addEventListener("click", function () { lastPressed = button; });
    });
    form.addEventListener("submit", function (event) {
      /* While OK or Apply is being stored, no other button posts: the form still holds the
         draft version from before, so Preview or Save would be refused as a conflict. */
      if (busy) { event.preventDefault(); return; }
      var submitter = event.submitter || lastPressed;
      if (!submitter || !inPlace(submitter.value) || !window.fetch || !window.DOMParser ||
          !window.URLSearchParams || !window.FormData) {
        return;
      }
      event.preventDefault();
      busy = true;
      var body = new URLSearchParams(new FormData(form));
      body.append(submitter.name, submitter.value);
      form.setAttribute("aria-busy", "true");
      submitter.classList.add("is-busy");
      /* form.action would be the buttons named "action": read the attribute. */
      var target = new URL(form.getAttribute("action") || "", window.location.href).href;
      window.fetch(target, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "Accept": "text/html" }
      }).then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("text/html") === -1) { throw new Error("not a page"); }
        return response.text().then(function (text) {
          if (!swapIn(text, response.url, submitter.value)) { throw new Error("not the dialog"); }
        });
      }).catch(function (error) {
        if (window.console) { window.console.warn("Sending the form the plain way:", error); }
        busy = false;
        form.removeAttribute("aria-busy");
        submitter.classList.remove("is-busy");
        plainSubmit(form, submitter);
      });
    });
  }

  function enhance(form) {
    if (!form) { return; }
    initTabs(form);
    initCopy(form);
    initSubmit(form);
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document.getElementById("login-settings-form"));
    if (wideScreen && wideScreen.addEventListener) {
      wideScreen.addEventListener("change", orientTablists);
    }
  });
})();
