/* Optional camera preview on the sandbox face page. Nothing is recorded or uploaded; the page
   works the same without a camera (headless browsers, denied permission, insecure origin). */
(function () {
  "use strict";
  var preview = document.querySelector("[data-face-preview]");
  var media = navigator.mediaDevices;
  if (!preview || !media || typeof media.getUserMedia !== "function") return;
  var video = document.getElementById("face-video");
  var button = document.getElementById("face-camera");
  var note = document.getElementById("face-camera-note");
  var stream = null;
  preview.hidden = false;

  function stop() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    media.getUserMedia({ video: { facingMode: "user" }, audio: false }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.setAttribute("data-live", "");
      button.hidden = true;
      note.textContent = note.dataset.on || "";
    }).catch(function () {
      button.disabled = false;
      note.textContent = note.dataset.off || "";
    });
  });

  var form = document.querySelector("[data-face-form]");
  if (form) form.addEventListener("submit", stop);
  window.addEventListener("pagehide", stop);
})();
