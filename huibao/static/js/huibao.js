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

  document.addEventListener("DOMContentLoaded", function () { initTabs(document); });
  document.addEventListener("htmx:load", function (e) { initTabs(e.target); });
})();
