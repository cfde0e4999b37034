/* Application flow helpers (no framework). The server checks everything again; these only guide. */
(function () {
  "use strict";

  // Forced reading: "我已阅读" unlocks when the box was scrolled to its end AND the minimum time
  // (counted from when the server opened the document) has passed.
  function initReader(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    var box = root.querySelector("[data-reader-box]");
    var button = root.querySelector("[data-reader-submit]");
    var scrolledInput = root.querySelector("input[name=scrolled_to_end]");
    var countdown = root.querySelector("[data-countdown]");
    var scrollState = root.querySelector("[data-scroll-state]");
    var label = button.dataset.label || button.textContent;
    var deadline = Date.now() + Number(root.dataset.remaining || 0) * 1000;
    var scrolled = false;

    function left() { return Math.max(0, Math.ceil((deadline - Date.now()) / 1000)); }

    function update() {
      var seconds = left();
      if (countdown) {
        countdown.textContent = seconds > 0 ? "请至少阅读 " + seconds + " 秒" : "阅读时间已满";
        countdown.dataset.done = seconds > 0 ? "0" : "1";
      }
      if (scrollState) {
        scrollState.textContent = scrolled ? "已阅读至文末" : "请向下滑动阅读至文末";
        scrollState.dataset.done = scrolled ? "1" : "0";
      }
      var ready = scrolled && seconds === 0;
      button.disabled = !ready;
      button.textContent = ready ? label : (seconds > 0 ? label + "（" + seconds + "秒）" : label);
      return seconds;
    }

    function checkScroll() {
      if (!scrolled && box.scrollTop + box.clientHeight >= box.scrollHeight - 8) {
        scrolled = true;
        scrolledInput.value = "1";
        update();
      }
    }

    box.addEventListener("scroll", checkScroll, { passive: true });
    checkScroll();  // a short text fits without scrolling
    update();
    var timer = window.setInterval(function () {
      if (update() === 0) window.clearInterval(timer);
    }, 250);
  }

  // Named beneficiaries: the running total of the shares per order (顺位), shown under the rows.
  function initShares(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    var out = root.querySelector("[data-share-total]");
    if (!out) return;
    function update() {
      var totals = {};
      root.querySelectorAll("[data-beneficiary]").forEach(function (row) {
        var share = row.querySelector("input[name$='.share_percent']");
        var order = row.querySelector("select[name$='.order']");
        var key = order ? order.value : "1";
        var value = parseFloat(share && share.value ? share.value : "0");
        totals[key] = (totals[key] || 0) + (isNaN(value) ? 0 : value);
      });
      var keys = Object.keys(totals).sort();
      var bad = keys.some(function (k) { return Math.abs(totals[k] - 100) > 0.001; });
      out.textContent = keys.map(function (k) {
        return "第" + k + "顺位合计 " + Math.round(totals[k] * 100) / 100 + "%";
      }).join("；") + (bad ? "（须为100%）" : "");
      out.classList.toggle("share-total--bad", bad);
    }
    root.addEventListener("input", update);
    root.addEventListener("change", update);
    update();
  }

  // A key clause's button unlocks after its reading time (the server's count, sent as
  // data-hold seconds; the server refuses an early confirmation anyway).
  function initHold(button) {
    if (button.dataset.ready) return;
    button.dataset.ready = "1";
    var label = button.dataset.label || button.textContent;
    var deadline = Date.now() + Number(button.dataset.hold || 0) * 1000;
    function update() {
      var seconds = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      button.disabled = seconds > 0;
      button.textContent = seconds > 0 ? label + "（" + seconds + "秒）" : label;
      return seconds;
    }
    if (update() === 0) return;
    var timer = window.setInterval(function () { if (update() === 0) window.clearInterval(timer); }, 250);
  }

  // A health question for one sex only (目前是否怀孕, data-only-sex="F") shows while the insured
  // person's sex is unknown and hides once their ID number (the applicant's for 本人) says
  // otherwise; hidden, its choices are disabled and not sent. The server checks the same.
  function sexOf(idNumber) {
    var n = (idNumber || "").trim().toUpperCase();
    return /^\d{17}[\dX]$/.test(n) ? (parseInt(n.charAt(16), 10) % 2 ? "M" : "F") : null;
  }
  function initSexQuestions(block) {
    if (block.dataset.sexReady || !block.querySelector("[data-only-sex]")) return;
    block.dataset.sexReady = "1";
    var form = block.closest("form") || document;
    function update() {
      var relation = block.querySelector('input[type=radio][name$=".relation"]:checked');
      var own = block.querySelector('input[name$=".id_number"]');
      var source = relation && relation.value === "self" ? form.querySelector('input[name="applicant.id_number"]') : own;
      var sex = sexOf(source ? source.value : "");
      block.querySelectorAll("[data-only-sex]").forEach(function (q) {
        var hide = sex !== null && q.dataset.onlySex !== sex;
        q.hidden = hide;
        q.querySelectorAll("input").forEach(function (input) {
          if (input.dataset.locked === undefined) input.dataset.locked = input.disabled ? "1" : "";
          input.disabled = hide || input.dataset.locked === "1";
        });
      });
    }
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  }

  function initAll(scope) {
    scope.querySelectorAll("fieldset.insured").forEach(initSexQuestions);
    scope.querySelectorAll("[data-reader]").forEach(initReader);
    scope.querySelectorAll("[data-hold]").forEach(initHold);
    var current = scope.querySelector && scope.querySelector(".clause-card[data-state=current]");
    if (current && scope !== document) current.scrollIntoView({ block: "start", behavior: "instant" });
    scope.querySelectorAll("[data-shares]").forEach(initShares);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { initAll(document); });
  else initAll(document);
  document.addEventListener("htmx:load", function (e) { if (e.target.querySelectorAll) initAll(e.target); });
})();
