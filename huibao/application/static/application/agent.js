/* The agent's pages: copy the invitation link (no framework). */
(function () {
  "use strict";

  // 复制链接: the clipboard API where the page may use it; otherwise (an http:// page on a LAN
  // address, an old browser) the link is selected so the agent copies it with the system menu.
  // The button stays hidden until this script runs: without it there is only the selectable link.
  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function initCopy(root) {
    var button = root.querySelector("[data-copy-button]");
    var source = root.querySelector("[data-copy-source]");
    var status = root.querySelector("[data-copy-status]");
    if (!button || !source) return;
    var label = button.textContent;
    var timer = null;

    function say(text, ok) {
      if (status) {
        status.textContent = text;
        status.dataset.ok = ok ? "1" : "0";
      }
      button.textContent = ok ? button.dataset.copiedLabel : label;
      clearTimeout(timer);
      timer = setTimeout(function () { button.textContent = label; }, 3000);
    }

    function fallback() {
      selectText(source);
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      say(copied ? button.dataset.copiedLabel : button.dataset.selectedLabel, copied);
    }

    button.hidden = false;
    button.addEventListener("click", function () {
      var text = source.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { say(button.dataset.copiedLabel, true); }, fallback);
      } else {
        fallback();
      }
    });
  }

  function init() { document.querySelectorAll("[data-copy]").forEach(initCopy); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
