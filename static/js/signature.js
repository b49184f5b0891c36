/* Signature pad (ES5, CSP-safe): <canvas data-signature-pad data-target="#input"> with a sibling
 * [data-signature-clear]; each stroke writes a PNG data URL (or "") into the target and fires
 * "signature-changed". Empty pads show 请在此签名 (data-placeholder), never saved. Backing store
 * capped at 2000x1000 px; optional data-pen-color/-width; htmx:load inits swapped pads. */
(function () {
  "use strict";
  var MAX_W = 2000, MAX_H = 1000;

  function fire(el, name, detail) {
    var ev;
    try { ev = new CustomEvent(name, { bubbles: true, detail: detail }); } catch (x) {
      ev = document.createEvent("CustomEvent"); ev.initCustomEvent(name, true, false, detail); }
    el.dispatchEvent(ev);
  }
  function mid(a, b) { return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 }; }

  function setup(canvas) {
    if (canvas.getAttribute("data-signature-ready")) { return; }
    canvas.setAttribute("data-signature-ready", "1");
    var ctx = canvas.getContext("2d"), s = canvas.style;
    if (!ctx) { return; }
    var color = canvas.getAttribute("data-pen-color") || "#111";
    var penW = parseFloat(canvas.getAttribute("data-pen-width")) || 2.5;
    var hint = canvas.getAttribute("data-placeholder") || "请在此签名";
    var cssW = 0, cssH = 0, ratio = 1, drawing = false, dirty = false, pts = [], activeId = null, timer = null;
    s.touchAction = "none"; s.msTouchAction = "none"; s.userSelect = "none"; s.webkitUserSelect = "none";

    function target() { var sel = canvas.getAttribute("data-target"); return sel ? document.querySelector(sel) : null; }
    function wipe() {
      ctx.save(); ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, canvas.width, canvas.height); ctx.restore();
    }
    // The grey hint inside an empty pad; wiped by the first stroke.
    function placeholder() {
      if (dirty || !cssW) { return; }
      wipe();
      ctx.save();
      ctx.fillStyle = "#5f6b76";
      ctx.font = Math.max(16, Math.min(28, Math.round(cssH / 5))) + "px system-ui, sans-serif";
      ctx.textAlign = "center"; ctx.textBaseline = "middle";
      ctx.fillText(hint, cssW / 2, cssH / 2);
      ctx.restore();
      canvas.setAttribute("data-placeholder-shown", "1");
    }
    function unplaceholder() {
      if (canvas.getAttribute("data-placeholder-shown") === "1") { wipe(); canvas.setAttribute("data-placeholder-shown", "0"); }
    }
    function pen() {
      ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = penW;
      ctx.lineCap = "round"; ctx.lineJoin = "round";
    }
    // Match the backing store to the CSS size; keep the drawing (shrunk if needed).
    function fit() {
      var r = canvas.getBoundingClientRect(), w = Math.round(r.width), h = Math.round(r.height);
      if (!w || !h || (w === cssW && h === cssH)) { return; }
      var old = null, oldW = cssW, oldH = cssH;
      if (dirty && oldW) {
        old = document.createElement("canvas"); old.width = canvas.width; old.height = canvas.height;
        old.getContext("2d").drawImage(canvas, 0, 0);
      }
      ratio = Math.min(window.devicePixelRatio || 1, MAX_W / w, MAX_H / h);
      canvas.width = Math.floor(w * ratio); canvas.height = Math.floor(h * ratio);
      r = canvas.getBoundingClientRect();  // not sized by CSS? pin it, or it grows with the backing store
      if (Math.round(r.width) !== w || Math.round(r.height) !== h) { s.width = w + "px"; s.height = h + "px"; }
      cssW = w; cssH = h;
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0); pen();
      if (old) { var k = Math.min(1, w / oldW, h / oldH); ctx.drawImage(old, 0, 0, oldW * k, oldH * k); save(); }
      else if (!dirty) { placeholder(); }
    }
    function save() {
      var t = target(), url = "";
      if (dirty) { try { url = canvas.toDataURL("image/png"); } catch (x) { url = ""; } }
      if (t) { t.value = url; }
      fire(canvas, "signature-changed", { empty: !url });
    }
    function clear() {
      wipe();
      dirty = false; drawing = false; save(); placeholder();
    }
    function pos(e) { var r = canvas.getBoundingClientRect(); return { x: e.clientX - r.left, y: e.clientY - r.top }; }
    function segment(from, ctrl, to) {
      ctx.beginPath(); ctx.moveTo(from.x, from.y);
      if (ctrl) { ctx.quadraticCurveTo(ctrl.x, ctrl.y, to.x, to.y); } else { ctx.lineTo(to.x, to.y); }
      ctx.stroke();
    }
    function start(p) {
      fit(); if (!dirty) { unplaceholder(); }
      drawing = true; pts = [p];
      ctx.beginPath(); ctx.arc(p.x, p.y, penW / 2, 0, Math.PI * 2); ctx.fill();  // a tap leaves a dot
    }
    // Quadratic curves through the midpoints of successive points: smooth strokes.
    function move(p) {
      if (!drawing) { return; }
      var last = pts[pts.length - 1];
      if (Math.abs(p.x - last.x) + Math.abs(p.y - last.y) < 1) { return; }
      pts.push(p); if (pts.length > 3) { pts.shift(); }
      if (pts.length === 2) { segment(pts[0], null, mid(pts[0], pts[1])); } else { segment(mid(pts[0], pts[1]), pts[1], mid(pts[1], pts[2])); }
    }
    function end() {
      if (!drawing) { return; }
      var n = pts.length; drawing = false;
      if (n > 1) { segment(mid(pts[n - 2], pts[n - 1]), null, pts[n - 1]); }
      dirty = true; save();
    }

    if (window.PointerEvent) {
      canvas.addEventListener("pointerdown", function (e) {
        if (activeId !== null || (e.pointerType === "mouse" && e.button !== 0)) { return; }
        activeId = e.pointerId; e.preventDefault();
        try { canvas.setPointerCapture(e.pointerId); } catch (x) { /* ignore */ }
        start(pos(e));
      });
      canvas.addEventListener("pointermove", function (e) {
        if (e.pointerId !== activeId) { return; }
        e.preventDefault();
        var list = (e.getCoalescedEvents && e.getCoalescedEvents()) || [];
        if (!list.length) { list = [e]; }
        for (var i = 0; i < list.length; i++) { move(pos(list[i])); }
      });
      var up = function (e) { if (e.pointerId === activeId) { activeId = null; end(); } };
      canvas.addEventListener("pointerup", up); canvas.addEventListener("pointercancel", up);
      canvas.addEventListener("lostpointercapture", up);
    } else {  // old WebViews: touch events, then mouse
      canvas.addEventListener("touchstart", function (e) {
        e.preventDefault();
        if (e.touches.length === 1) { start(pos(e.touches[0])); }
      }, false);
      canvas.addEventListener("touchmove", function (e) { e.preventDefault(); move(pos(e.touches[0])); }, false);
      canvas.addEventListener("touchend", function (e) { e.preventDefault(); end(); }, false);
      canvas.addEventListener("touchcancel", end, false);
      canvas.addEventListener("mousedown", function (e) { if (e.button === 0) { e.preventDefault(); start(pos(e)); } });
      canvas.addEventListener("mousemove", function (e) { move(pos(e)); });
      canvas.addEventListener("mouseup", end); canvas.addEventListener("mouseleave", end);
    }

    var box = canvas.parentNode, btn = box && box.querySelector("[data-signature-clear]");
    if (btn) { btn.addEventListener("click", function (e) { e.preventDefault(); clear(); }); }

    function onResize() {
      if (!document.documentElement.contains(canvas)) {  // swapped out by htmx
        window.removeEventListener("resize", onResize); window.removeEventListener("orientationchange", onResize);
        return;
      }
      clearTimeout(timer); timer = setTimeout(fit, 150);
    }
    window.addEventListener("resize", onResize); window.addEventListener("orientationchange", onResize);
    if (window.ResizeObserver) { new ResizeObserver(onResize).observe(canvas); }  // e.g. shown from hidden
    fit();

    var t = target();
    if (t && cssW && /^data:image\/png;base64,/.test(t.value)) {  // redraw a kept value
      var img = new Image();
      img.onload = function () {
        var k = Math.min(cssW / img.width, cssH / img.height);
        unplaceholder();
        ctx.drawImage(img, 0, 0, img.width * k, img.height * k); dirty = true;
      };
      img.src = t.value;
    }
  }

  function init(root) {
    if (!root || !root.querySelectorAll) { return; }
    if (root.tagName === "CANVAS" && root.hasAttribute("data-signature-pad")) { setup(root); }
    var list = root.querySelectorAll("canvas[data-signature-pad]");
    for (var i = 0; i < list.length; i++) { setup(list[i]); }
  }

  window.xcappSignature = { init: init };
  document.addEventListener("htmx:load", function (e) { init(e.detail && e.detail.elt); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else { init(document); }
})();
