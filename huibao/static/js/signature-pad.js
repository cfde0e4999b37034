/* Handwritten signature pad (esign/signature_pad.html). No framework.
   Pointer events, so finger, pen and mouse all draw; the canvas has `touch-action: none` so the
   page does not scroll while writing. The ink is kept as strokes and written, after every stroke
   and again on submit, into the hidden input as JSON:
     {"width": W, "height": H, "strokes": [[[x, y, t], ...], ...]}
   x, y in CSS pixels of the canvas (origin top left), t in ms since the first point.
   huibao/esign/handwriting.py parses and checks it on the server. */
(function () {
  "use strict";
  var MAX_POINTS = 5000;  // the server refuses more
  var MIN_STEP = 1.5;     // CSS px: closer points add nothing but weight
  var PEN = 2.5;          // CSS px, as the server's PNG

  function initPad(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    var canvas = root.querySelector("#signature-canvas");
    var clearButton = root.querySelector("#signature-clear");
    var input = root.querySelector("[data-signature-input]");
    var guide = root.querySelector(".signature-pad__guide");
    var ctx = canvas.getContext("2d");
    var strokes = [], current = null, pointerId = null, t0 = null, points = 0;
    var width = 0, height = 0;      // the ink's coordinate space: the pad's CSS size
    var bitmapW = 0, bitmapH = 0;   // the size the canvas bitmap was last set up for

    function save() {
      input.value = JSON.stringify({ width: width, height: height, strokes: strokes });
      root.classList.toggle("signature-pad--signed", strokes.length > 0);
    }

    // Size the bitmap to the element times devicePixelRatio, so lines stay sharp; keep the ink,
    // scaled without changing its shape, if the pad changes size (a phone turned).
    function resize() {
      var rect = canvas.getBoundingClientRect();
      var w = Math.round(rect.width), h = Math.round(rect.height);
      if (!w || !h || (w === bitmapW && h === bitmapH)) return;
      if (width && (w !== width || h !== height)) {
        var f = Math.min(w / width, h / height);
        strokes.forEach(function (s) {
          s.forEach(function (p) { p[0] = round1(Math.min(p[0] * f, w)); p[1] = round1(Math.min(p[1] * f, h)); });
        });
      }
      width = bitmapW = w; height = bitmapH = h;
      var ratio = window.devicePixelRatio || 1;
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      if (guide) {
        var chars = Math.max(Array.from(guide.textContent.trim()).length, 1);
        guide.style.fontSize = Math.floor(Math.min(h * 0.55, w / (chars + 1))) + "px";
      }
      redraw();
      if (strokes.length) save();
    }

    // A form shown again after an error keeps the ink it was posted with.
    function restore() {
      try {
        var data = JSON.parse(input.value || "null");
        if (!data || !Array.isArray(data.strokes) || !(data.width > 0) || !(data.height > 0)) return;
        strokes = data.strokes;
        points = strokes.reduce(function (n, s) { return n + s.length; }, 0);
        width = data.width; height = data.height;  // resize() scales them to the pad's size
        var last = strokes.length ? strokes[strokes.length - 1] : [];
        if (last.length) t0 = performance.now() - last[last.length - 1][2] - 1000;  // time goes on
      } catch (err) { /* not ours: start empty */ }
    }

    function round1(v) { return Math.round(v * 10) / 10; }

    function pointFrom(e) {
      var rect = canvas.getBoundingClientRect();
      if (t0 === null) t0 = e.timeStamp;
      return [
        round1(Math.min(Math.max(e.clientX - rect.left, 0), width)),
        round1(Math.min(Math.max(e.clientY - rect.top, 0), height)),
        Math.max(Math.round(e.timeStamp - t0), 0)
      ];
    }

    function pen() {
      ctx.lineWidth = PEN; ctx.lineCap = "round"; ctx.lineJoin = "round";
      ctx.strokeStyle = "#000"; ctx.fillStyle = "#000";
    }

    // Quadratic curves through the midpoints of successive points (the server draws the same).
    function drawSegment(s, i) {
      var p = s[i - 1], q = s[i];
      ctx.beginPath();
      if (i === 1) {
        ctx.moveTo(p[0], p[1]);
      } else {
        var o = s[i - 2];
        ctx.moveTo((o[0] + p[0]) / 2, (o[1] + p[1]) / 2);
      }
      ctx.quadraticCurveTo(p[0], p[1], (p[0] + q[0]) / 2, (p[1] + q[1]) / 2);
      ctx.stroke();
    }

    function drawDot(p) {
      ctx.beginPath();
      ctx.arc(p[0], p[1], PEN / 2, 0, 2 * Math.PI);
      ctx.fill();
    }

    function finishLine(s) {  // from the last midpoint to the last point
      if (s.length < 2) return;
      var p = s[s.length - 2], q = s[s.length - 1];
      ctx.beginPath();
      ctx.moveTo((p[0] + q[0]) / 2, (p[1] + q[1]) / 2);
      ctx.lineTo(q[0], q[1]);
      ctx.stroke();
    }

    function redraw() {
      ctx.clearRect(0, 0, width, height);
      pen();
      strokes.forEach(function (s) {
        drawDot(s[0]);
        for (var i = 1; i < s.length; i++) drawSegment(s, i);
        finishLine(s);
      });
    }

    function add(e) {
      if (points >= MAX_POINTS) return;
      var p = pointFrom(e), last = current[current.length - 1];
      if (Math.hypot(p[0] - last[0], p[1] - last[1]) < MIN_STEP) return;
      current.push(p);
      points++;
      drawSegment(current, current.length - 1);
    }

    canvas.addEventListener("pointerdown", function (e) {
      if (pointerId !== null || e.button > 0 || points >= MAX_POINTS) return;  // one pointer, primary button
      e.preventDefault();
      pointerId = e.pointerId;
      try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* pointer already gone */ }
      current = [pointFrom(e)];
      points++;
      strokes.push(current);
      pen();
      drawDot(current[0]);
    });

    canvas.addEventListener("pointermove", function (e) {
      if (e.pointerId !== pointerId) return;
      e.preventDefault();
      var events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      (events.length ? events : [e]).forEach(add);
    });

    function end(e) {
      if (e.pointerId !== pointerId) return;
      finishLine(current);
      pointerId = null;
      current = null;
      save();
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);

    clearButton.addEventListener("click", function () {
      strokes = []; current = null; pointerId = null; t0 = null; points = 0;
      redraw();
      save();
    });

    restore();
    var form = root.closest("form");
    if (form) form.addEventListener("submit", save, true);

    if (window.ResizeObserver) new ResizeObserver(resize).observe(canvas);
    else window.addEventListener("resize", resize);
    resize();
    save();
  }

  function initAll(scope) {
    (scope.querySelectorAll ? scope : document).querySelectorAll("[data-signature-pad]").forEach(initPad);
    if (scope.matches && scope.matches("[data-signature-pad]")) initPad(scope);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { initAll(document); });
  else initAll(document);
  document.addEventListener("htmx:load", function (e) { initAll(e.target); });
})();
