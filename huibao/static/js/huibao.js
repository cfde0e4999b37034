/* Small progressive enhancements; every page works without them. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // The sticky header's height, for scroll-padding-top: what is scrolled to is never under it.
  function trackHeader() {
    var header = document.querySelector(".site-header");
    if (!header) return;
    var set = function () { document.documentElement.style.setProperty("--header-h", header.offsetHeight + "px"); };
    set();
    if (window.ResizeObserver) new ResizeObserver(set).observe(header);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", trackHeader);
  else trackHeader();

  // Password fields: a 显示/隐藏 button beside each (hidden until this script runs).
  function initPasswordToggles(root) {
    root.querySelectorAll("[data-password-toggle]").forEach(function (button) {
      if (button.dataset.ready) return;
      var input = document.getElementById(button.dataset.passwordToggle);
      if (!input) return;
      button.dataset.ready = "1";
      button.hidden = false;
      button.addEventListener("click", function () {
        var show = input.type === "password";
        input.type = show ? "text" : "password";
        button.setAttribute("aria-pressed", show ? "true" : "false");
        button.textContent = show ? button.dataset.hideLabel : button.dataset.showLabel;
      });
    });
  }

  // The "send code" button stays disabled for the seconds the server gave (it refuses a resend
  // within 60 s anyway), counting down: "59秒后重新获取", then "重新获取".
  function initCountdowns(root) {
    root.querySelectorAll("[data-countdown]").forEach(function (button) {
      if (button.dataset.ready) return;
      button.dataset.ready = "1";
      var left = parseInt(button.dataset.countdown, 10) || 0;
      if (left <= 0) return;
      var template = button.dataset.countdownLabel || "{n}";
      button.disabled = true;
      (function tick() {
        if (left <= 0) {
          button.disabled = false;
          button.textContent = button.dataset.againLabel || button.textContent;
          return;
        }
        button.textContent = template.replace("{n}", String(left));
        left -= 1;
        window.setTimeout(tick, 1000);
      })();
    });
  }
  function initAccount() { initPasswordToggles(document); initCountdowns(document); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initAccount);
  else initAccount();

  // Accessible tabs for plan panels: arrows move between tabs, only the chosen panel shows.
  function initTabs(root) {
    root.querySelectorAll("[data-tabs]").forEach(function (list) {
      if (list.dataset.ready) return;
      list.dataset.ready = "1";
      var tabs = Array.prototype.slice.call(list.querySelectorAll('[role="tab"]'));
      function select(tab, focus) {
        tabs.forEach(function (t) {
          var on = t === tab;
          t.setAttribute("aria-selected", on ? "true" : "false");
          t.tabIndex = on ? 0 : -1;
          var panel = document.getElementById(t.getAttribute("aria-controls"));
          if (panel) { if (on) panel.removeAttribute("data-hidden"); else panel.setAttribute("data-hidden", ""); }
        });
        if (focus) tab.focus();
      }
      tabs.forEach(function (tab, i) {
        tab.tabIndex = tab.getAttribute("aria-selected") === "true" ? 0 : -1;
        tab.addEventListener("click", function (e) { e.preventDefault(); select(tab, false); });
        tab.addEventListener("keydown", function (e) {
          if (e.key === "ArrowRight") select(tabs[(i + 1) % tabs.length], true);
          if (e.key === "ArrowLeft") select(tabs[(i - 1 + tabs.length) % tabs.length], true);
        });
      });
    });
  }
  // Search filters: leave empty fields out of the request, so the URL pushed to the address bar
  // reads ?q=医疗&line=medical rather than listing every blank filter.
  document.addEventListener("htmx:configRequest", function (e) {
    if (e.detail.verb !== "get" || !e.detail.elt.closest("#search-form")) return;
    var params = e.detail.parameters;
    var names = typeof params.keys === "function" ? Array.from(params.keys()) : Object.keys(params);
    names.forEach(function (name) {
      var value = typeof params.get === "function" ? params.get(name) : params[name];
      if (value === "" || value === null) {
        if (typeof params.delete === "function") params.delete(name); else delete params[name];
      }
    });
  });

  // 加入对比 / 已加入: after every answer of the compare tray (an add, a remove, 清空), each
  // product's button takes the state the tray holds (the server renders it on page loads).
  function syncCompareButtons() {
    var tray = document.querySelector("#compare-tray .compare-tray");
    var codes = tray && tray.dataset.codes ? tray.dataset.codes.split(",") : [];
    document.querySelectorAll("button[data-compare]").forEach(function (button) {
      var added = codes.indexOf(button.dataset.compare) >= 0;
      button.value = added ? "remove" : "add";
      button.setAttribute("aria-pressed", added ? "true" : "false");
      button.classList.toggle("button--added", added);
      button.textContent = added ? button.dataset.labelAdded : button.dataset.labelAdd;
    });
  }
  document.addEventListener("htmx:afterSettle", function (e) {
    if (e.target && e.target.id === "compare-tray") syncCompareButtons();
  });

  // An error summary's link brings the whole field into view — its label or question too, not
  // only the input, which the browser would leave with its label under the sticky header — and
  // puts the cursor in it (the first choice of a radio group).
  document.addEventListener("click", function (e) {
    var link = e.target.closest ? e.target.closest('.error-summary a[href^="#"]') : null;
    if (!link) return;
    var target = document.getElementById(decodeURIComponent(link.getAttribute("href").slice(1)));
    if (!target) return;
    e.preventDefault();
    var field = target.closest(".field") || target;
    var input = target.matches("input, select, textarea") ? target : target.querySelector("input, select, textarea");
    field.scrollIntoView({ block: "start" });  // html's scroll-padding-top keeps it below the header
    if (input) input.focus({ preventScroll: true });
  });

  document.addEventListener("DOMContentLoaded", function () { initTabs(document); });
  document.addEventListener("htmx:load", function (e) { initTabs(e.target); });
})();
