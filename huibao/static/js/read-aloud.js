/* 朗读 (read aloud): a [data-read-aloud="ID"] button reads the text of element ID with the
   browser's speech synthesis in Chinese (zh-CN); a second tap stops. The button stays hidden
   where the browser has no speechSynthesis. No framework; htmx-swapped content is set up too. */
(function () {
  "use strict";
  var synth = window.speechSynthesis;
  if (!synth || typeof window.SpeechSynthesisUtterance !== "function") return;
  var speaking = null;  // the button whose text is being read

  function chineseVoice() {
    var voices = synth.getVoices() || [];
    return voices.find(function (v) { return /^zh[-_]CN/i.test(v.lang); }) ||
      voices.find(function (v) { return /^zh/i.test(v.lang); }) || null;
  }

  function setState(button, on) {
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? (button.dataset.stopLabel || "停止朗读") : (button.dataset.label || "朗读");
  }

  function stop() {
    synth.cancel();
    if (speaking) setState(speaking, false);
    speaking = null;
  }

  function toggle(button) {
    if (speaking === button) { stop(); return; }
    stop();
    var target = document.getElementById(button.dataset.readAloud);
    var text = target ? target.innerText.trim() : "";
    if (!text) return;
    var utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = "zh-CN";
    var voice = chineseVoice();
    if (voice) utterance.voice = voice;
    utterance.rate = document.body.classList.contains("elder") ? 0.85 : 1;
    utterance.onend = utterance.onerror = function () {
      if (speaking === button) { setState(button, false); speaking = null; }
    };
    speaking = button;
    setState(button, true);
    synth.speak(utterance);
  }

  function init(scope) {
    scope.querySelectorAll("[data-read-aloud]").forEach(function (button) {
      if (button.dataset.ready) return;
      button.dataset.ready = "1";
      button.hidden = false;
      button.addEventListener("click", function () { toggle(button); });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { init(document); });
  else init(document);
  document.addEventListener("htmx:load", function (e) { if (e.target.querySelectorAll) init(e.target); });
  document.addEventListener("htmx:beforeSwap", stop);  // the text read is about to go
  window.addEventListener("pagehide", stop);
})();
