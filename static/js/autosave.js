// The checklist on the phone never loses work. Every write of the page (a tap, a
// remark, a row, a photo, a signature, the enterprise's signature or refusal, the
// self-check, a 未能检查 record, submit) goes into the sync queue (sync.js,
// IndexedDB) instead of straight to the server, and each form shows its state:
// 待同步 while it is only on the phone, 正在同步, 已保存 HH:MM:SS (server time),
// 冲突 (both versions side by side, the officer chooses), or the server's reason
// beside the field when it refused the save (what was typed or drawn stays).
// Photos are shrunk on the phone to 1600 px on the long side, JPEG (quality 0.8,
// lower down to 0.6 while larger than ~250 KB), before they are queued.
// Without IndexedDB the page works online through htmx, as before.
(function () {
  "use strict";
  var Q = window.xcappSync;
  if (!Q || !window.htmx || !document.body.classList.contains("checklist-page")) { return; }
  // JPEG quality steps down until the photo is at most ~250 KB (a 400 kbit/s upload
  // of about 5 s); at 0.6 it is sent whatever its size (the server has its own limits).
  var MAX_SIDE = 1600, QUALITIES = [0.8, 0.7, 0.6], TARGET_BYTES = 250 * 1024;
  var PAGE = window.location.pathname;
  var savedAt = {};              // form id -> server time of its last acknowledged save
  var refused = {};              // form id -> message
  var progress = {};             // form id -> 0..1 while a photo is uploading
  var previews = {};             // entry id -> object URL

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function esc(text) {
    return String(text).replace(/[&<>"]/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; });
  }

  function kindOf(form, elt) {
    if (form.querySelector("input[type=file]")) { return "photo"; }
    if (form.classList.contains("answer-form")) { return "answer"; }
    if (form.classList.contains("remark-form")) { return "remark"; }
    if (form.classList.contains("sign-form")) { return "sign"; }
    if (form.id === "submit-form") { return "submit"; }
    if (form.id === "start-form") { return "start"; }
    if (elt !== form && elt.tagName === "BUTTON") { return "button"; }
    return "form";
  }
  function formKey(form, elt) {
    if (elt !== form && elt.tagName === "BUTTON") { return null; }
    if (form.id) { return form.id; }
    var officer = form.querySelector("[name=officer_id]");
    var key = (form.getAttribute("hx-post") || form.getAttribute("action") || "") + (officer ? "|" + officer.value : "");
    form.setAttribute("data-sync-id", key);
    return key;
  }
  function findForm(id) {
    if (!id) { return null; }
    return document.getElementById(id) || $$("[data-sync-id]").filter(function (f) { return f.getAttribute("data-sync-id") === id; })[0] || null;
  }
  function setSyncIds() {
    $$("form[hx-post]").forEach(function (f) { if (!f.id) { formKey(f, f); } });
  }
  function swapStyle(elt) {
    var node = elt;
    while (node && node.getAttribute) {
      var s = node.getAttribute("hx-swap");
      if (s) { return s.split(" ")[0]; }
      node = node.parentElement;
    }
    return "innerHTML";
  }
  function cardOf(elt) {
    var c = elt.closest && elt.closest(".item-card, section.card");
    return c ? c.id : "";
  }

  function dataUrlToBlob(url) {
    var parts = url.split(","), bin = atob(parts[1] || ""), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return new Blob([bytes], {type: "image/png"});
  }

  // The camera's photo shrunk to 1600 px on the long side, JPEG; smaller JPEGs as they are.
  function shrink(file) {
    if (!window.createImageBitmap) { return Promise.resolve(file); }
    return window.createImageBitmap(file).then(function (bmp) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
      if (scale === 1 && file.type === "image/jpeg") { return file; }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bmp.width * scale);
      canvas.height = Math.round(bmp.height * scale);
      canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
      if (bmp.close) { bmp.close(); }
      return encode(canvas, 0).then(function (blob) { return blob || file; });
    }).catch(function () { return file; });   // not decodable here: the server decides
  }
  function encode(canvas, step) {
    return new Promise(function (resolve) {
      canvas.toBlob(resolve, "image/jpeg", QUALITIES[step]);
    }).then(function (blob) {
      if (blob && blob.size > TARGET_BYTES && step + 1 < QUALITIES.length) { return encode(canvas, step + 1); }
      return blob;
    });
  }

  // The capture time, read before the photo is re-encoded (which drops EXIF): the
  // camera's DateTimeOriginal (else DateTime) from the JPEG's EXIF block, else the
  // file's lastModified; sent as captured_at, local wall-clock "YYYY-MM-DDTHH:MM:SS".
  function exifTime(buf) {
    try {
      var v = new DataView(buf), n = v.byteLength, off = 2;
      if (n < 4 || v.getUint16(0) !== 0xFFD8) { return null; }
      while (off + 4 <= n) {
        var marker = v.getUint16(off), size = v.getUint16(off + 2);
        if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) { return null; }
        if (marker === 0xFFE1 && off + 10 <= n && v.getUint32(off + 4) === 0x45786966) {
          return tiffTime(v, off + 10, Math.min(n, off + 2 + size));
        }
        off += 2 + size;
      }
    } catch (e) { /* a broken block: no time */ }
    return null;
  }
  function tiffTime(v, base, end) {
    var little = v.getUint16(base) === 0x4949;
    function u16(o) { return v.getUint16(base + o, little); }
    function u32(o) { return v.getUint32(base + o, little); }
    function entry(ifd, tag) {
      if (base + ifd + 2 > end) { return null; }
      for (var i = 0, count = u16(ifd); i < count; i++) {
        var e = ifd + 2 + i * 12;
        if (base + e + 12 > end) { return null; }
        if (u16(e) === tag) { return e; }
      }
      return null;
    }
    function ascii(e) {
      if (e === null) { return null; }
      var len = u32(e + 4), at = len > 4 ? u32(e + 8) : e + 8, text = "";
      if (base + at + len > end) { return null; }
      for (var i = 0; i < len; i++) {
        var c = v.getUint8(base + at + i);
        if (!c) { break; }
        text += String.fromCharCode(c);
      }
      var m = /^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})/.exec(text);
      return m ? m[1] + "-" + m[2] + "-" + m[3] + "T" + m[4] + ":" + m[5] + ":" + m[6] : null;
    }
    var ifd0 = u32(4), pointer = entry(ifd0, 0x8769), found = null;
    if (pointer !== null) { found = ascii(entry(u32(pointer + 8), 0x9003)); }
    return found || ascii(entry(ifd0, 0x0132));
  }
  function localIso(ms) {
    var d = new Date(ms), p = function (x) { return ("0" + x).slice(-2); };
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" +
      p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }
  function captureTime(file) {
    var fallback = file.lastModified ? localIso(file.lastModified) : "";
    return new Promise(function (resolve) {
      var r = new FileReader();
      r.onload = function () { resolve(exifTime(r.result) || fallback); };
      r.onerror = function () { resolve(fallback); };
      r.readAsArrayBuffer(file.slice(0, 256 * 1024));
    });
  }

  function collect(form, formData) {
    var jobs = [];
    formData.forEach(function (value, name) {
      if (name === "csrf_token" || name === "save_key") { return; }
      if (value instanceof window.File) {
        if (!value.size && !value.name) { return; }
        jobs.push(shrink(value).then(function (blob) {
          return [name, {blob: blob, filename: (value.name || "photo").replace(/\.[^.]*$/, "") + ".jpg"}];
        }));
        jobs.push(captureTime(value).then(function (at) { return ["captured_at", at]; }));
      } else if (name === "signature" && value.indexOf("data:image/png;base64,") === 0) {
        jobs.push(Promise.resolve([name, {dataUrl: dataUrlToBlob(value)}]));
      } else {
        jobs.push(Promise.resolve([name, String(value)]));
      }
    });
    return Promise.all(jobs);
  }

  // A row added on the phone is drawn at once from the page's template, under a
  // reference of the phone's own (client_ref, sent with the add): its saves go to URLs
  // by that reference, which the server resolves once the queued add has arrived.
  // After a reload without network the queued adds draw their rows again.
  function addRow(kind, ref) {
    var tpl = document.getElementById(kind + "-row-template");
    if (!tpl || document.getElementById((kind === "extra" ? "extra-r" : "equip-r") + ref)) { return; }
    var box = document.createElement("div");
    box.innerHTML = tpl.innerHTML.split("__ref__").join(ref);
    var row = box.firstElementChild;
    tpl.parentNode.insertBefore(row, tpl);
    window.htmx.process(row);
    // As on the server: a row of item 12 clears its 无 marker.
    var none = kind === "extra" && tpl.parentNode.querySelector(".actions form");
    if (none) { none.remove(); }
  }
  function refOf(entry) {
    var f = (entry.fields || []).filter(function (x) { return x[0] === "client_ref"; })[0];
    return f ? f[1] : "";
  }

  function enqueue(form, elt, url, formData, target) {
    var at = Date.now();   // the fields are as on the page now
    var kind = kindOf(form, elt);
    var id = formKey(form, elt);
    if (kind === "photo") { busyPhoto(id, true); }
    return collect(form, formData).then(function (fields) {
      if (kind === "photo" && !fields.some(function (f) { return f[1] && f[1].blob; })) { busyPhoto(id, false); return null; }
      delete refused[id];
      return Q.all().then(function (entries) {
        var older = id && kind !== "photo" && entries.filter(function (e) {
          return e.form === id && e.page === PAGE && e.state === "pending" && !Q.inflight(e.id);
        })[0];
        if (older) { return Q.replace(older, fields, at); }
        var row = elt.getAttribute("data-add-row") || "";
        // The row drawn on the phone stays (with what is typed into it): the add's
        // answer only updates the regions around it.
        return Q.add({url: url, fields: fields, kind: kind, form: id, card: cardOf(elt), row: row, at: at,
                      target: target && target.id ? target.id : "", swap: row ? "none" : swapStyle(elt)});
      });
    }).then(function (entry) {
      if (kind === "photo") {
        var input = form.querySelector("input[type=file]");
        if (input) { input.value = ""; }
        busyPhoto(id, false);
      }
      render();
      Q.sync();
      return entry;
    });
  }

  // Every write of the checklist goes through the queue.
  document.addEventListener("htmx:configRequest", function (evt) {
    var d = evt.detail;
    if (d.verb !== "post") { return; }
    evt.preventDefault();
    var elt = d.elt, form = elt.closest("form") || elt;
    var data = d.formData || toFormData(d.parameters), kind = elt.getAttribute("data-add-row");
    if (kind) {
      var ref = Q.uuid().slice(0, 16);
      data.set("client_ref", ref);
      addRow(kind, ref);
    }
    enqueue(form, elt, d.path, data, d.target);
  });
  function toFormData(params) {
    var fd = new FormData();
    Object.keys(params || {}).forEach(function (k) { fd.append(k, params[k]); });
    return fd;
  }

  // Remarks: after 1 s without typing, when the field loses focus, and when the page
  // is hidden or left; a copy of the typed text is kept synchronously meanwhile.
  var timers = {};
  function draftKey(form) { return "xcapp-draft:" + PAGE + "#" + form.id; }
  function saveRemark(form) {
    clearTimeout(timers[form.id]);
    delete timers[form.id];
    if (!form.hasAttribute("data-dirty")) { return; }
    form.removeAttribute("data-dirty");
    enqueue(form, form, form.getAttribute("hx-post"), new FormData(form), form).then(function () {
      try { window.localStorage.removeItem(draftKey(form)); } catch (e) { /* ignore */ }
    });
  }
  document.addEventListener("input", function (evt) {
    var form = evt.target.closest && evt.target.closest("form.remark-form, form.remark-autosave");
    if (!form || !form.id) { return; }
    form.setAttribute("data-dirty", "1");
    try { window.localStorage.setItem(draftKey(form), evt.target.value); } catch (e) { /* ignore */ }
    clearTimeout(timers[form.id]);
    timers[form.id] = setTimeout(function () { saveRemark(form); }, 1000);
  });
  document.addEventListener("focusout", function (evt) {
    var form = evt.target.closest && evt.target.closest("form.remark-form");
    if (form) { saveRemark(form); }
  });
  function flushRemarks() { $$("form.remark-form[data-dirty]").forEach(saveRemark); }
  window.addEventListener("pagehide", flushRemarks);
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") { flushRemarks(); } });

  // Submit (also offline): queued as 待提交 after everything before it.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.id !== "submit-form") { return; }
    evt.preventDefault();
    var go = function () { enqueue(form, form, form.getAttribute("action"), new FormData(form), null); };
    var share = form.querySelector("[name=share_location]");
    if (share && share.checked && navigator.geolocation) {
      navigator.geolocation.getCurrentPosition(function (pos) {
        form.querySelector("[name=lat]").value = pos.coords.latitude;
        form.querySelector("[name=lon]").value = pos.coords.longitude;
        form.querySelector("[name=accuracy]").value = pos.coords.accuracy;
        go();
      }, go, {timeout: 8000, maximumAge: 60000});
    } else {
      go();
    }
  });

  // 开始检查 of a record prepared for offline use: the checklist opens at once and the
  // tap waits in the queue like any change (the server starts the record with the
  // first write as well, should the tap arrive later).
  function opened() {
    var gate = $("#start-gate"), body = $("#checklist-body");
    if (gate) { gate.hidden = true; }
    if (body) { body.hidden = false; }
  }
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.id !== "start-form") { return; }
    evt.preventDefault();
    enqueue(form, form, form.getAttribute("action"), new FormData(form), null).then(opened);
  });
  var startForm = $("#start-form");
  if (startForm) {
    Q.all().then(function (entries) {
      if (entries.some(function (e) { return e.url === startForm.getAttribute("action"); })) { opened(); }
    });
  }

  function busyPhoto(id, on) {
    var form = findForm(id);
    if (!form) { return; }
    var input = form.querySelector("input[type=file]");
    if (input) { input.disabled = on; }
    var label = form.querySelector(".photo-btn");
    if (label) { label.classList.toggle("is-busy", on); label.setAttribute("aria-disabled", on ? "true" : "false"); }
  }

  function messageOf(html) {
    var box = document.createElement("div");
    box.innerHTML = html;
    var alert = box.querySelector("[role=alert], .flash-error, .error");
    return (alert ? alert.textContent : box.textContent || "").replace(/\s+/g, " ").trim() || "保存未成功，请检查后重试。";
  }

  function applyResponse(entry, html) {
    var target = entry.target ? document.getElementById(entry.target) : null;
    var style = entry.swap || "innerHTML";
    return Q.all().then(function (entries) {
      var newer = entries.some(function (e) { return e.form && e.form === entry.form && e.page === PAGE; });
      // A newer change of the same form waits: keep what is on the screen, take the rest.
      if (newer || !target || style === "none" || entry.kind === "remark") {
        window.htmx.swap(document.body, html, {swapStyle: "none"});
      } else {
        window.htmx.swap(target, html, {swapStyle: style, swapDelay: 0, settleDelay: 0});
      }
    });
  }

  Q.on(function (name, entry, extra) {
    if (name === "changed") { render(); return; }
    if (!entry || entry.page !== PAGE) { return; }
    if (name === "progress") {
      progress[entry.form] = extra;
      renderProgress(entry.form);
    } else if (name === "sending") {
      if (entry.kind === "photo") { progress[entry.form] = 0; busyPhoto(entry.form, true); renderProgress(entry.form); }
      render();
    } else if (name === "saved") {
      if (entry.kind === "photo") { delete progress[entry.form]; busyPhoto(entry.form, false); }
      savedAt[entry.form] = extra.at;
      if (entry.kind !== "submit" && entry.kind !== "start") { applyResponse(entry, extra.response.body).then(render); }
      Q.refreshPage();
    } else if (name === "refused") {
      if (entry.kind === "photo") { delete progress[entry.form]; busyPhoto(entry.form, false); }
      refused[entry.form || entry.card] = messageOf(extra.body);
      render();
    } else if (name === "offline" || name === "busy") {
      if (entry.kind === "photo") { delete progress[entry.form]; busyPhoto(entry.form, false); renderProgress(entry.form); }
      render();
    } else if (name === "conflict") {
      showConflict(entry);
    }
  });

  function renderProgress(id) {
    var form = findForm(id);
    if (!form) { return; }
    var bar = form.querySelector("progress.upload-progress");
    if (progress[id] === undefined) { if (bar) { bar.remove(); } return; }
    if (!bar) {
      bar = document.createElement("progress");
      bar.className = "upload-progress";
      bar.max = 100;
      bar.setAttribute("aria-label", "照片上传进度");
      form.appendChild(bar);
    }
    if (progress[id] === null) { bar.removeAttribute("value"); } else { bar.value = Math.round(progress[id] * 100); }
  }

  // ------------------------------------------------------------ states on the page

  function stateNode(form, id) {
    var node = $$(".sync-state").filter(function (n) { return n.getAttribute("data-for") === id; })[0];
    if (node) { return node; }
    node = document.createElement("div");
    node.className = "sync-state";
    node.setAttribute("data-for", id);
    node.setAttribute("role", "status");
    form.parentNode.insertBefore(node, form.nextSibling);
    return node;
  }

  function describeFields(form, fields) {
    var out = [];
    fields.forEach(function (f) {
      var name = f[0], value = f[1];
      if (typeof value !== "string" || name === "base_version" || name === "record_present") { return; }
      var input = form && $$("[name='" + name + "']", form).filter(function (el) { return el.value === value; })[0];
      if (input && (input.type === "radio" || input.type === "checkbox")) {
        var label = input.closest("label");
        out.push(label ? label.textContent.trim() : value);
      } else if (value) {
        out.push(value);
      }
    });
    return out.join("、") || "（空）";
  }
  function describeForm(form) {
    var out = [];
    $$("input, textarea, select", form).forEach(function (el) {
      if (el.type === "hidden") { return; }
      if ((el.type === "radio" || el.type === "checkbox")) {
        if (el.checked) { var l = el.closest("label"); out.push(l ? l.textContent.trim() : el.value); }
      } else if (el.value) { out.push(el.value); }
    });
    return out.join("、") || "（空）";
  }

  // A queued entry is shown again in its form (after a reload, or in a form a response
  // replaced), unless the officer typed into that form after the entry was made: what is
  // on the screen then is newer. (On a slow phone the redraw after the first field's
  // save came while the next field was being typed, and blanked it.)
  document.addEventListener("input", function (evt) {
    var form = evt.target.closest && evt.target.closest("form");
    if (form) { form.setAttribute("data-edited", String(Date.now())); }
  }, true);
  function restoreValues(form, entry) {
    if (!form || form.getAttribute("data-restored") === entry.key) { return; }
    var edited = form.getAttribute("data-edited");
    if (edited && Number(edited) >= (entry.at || 0)) { return; }
    form.setAttribute("data-restored", entry.key);
    var names = {};
    entry.fields.forEach(function (f) { names[f[0]] = true; });
    $$("input[type=radio], input[type=checkbox]", form).forEach(function (el) { if (names[el.name]) { el.checked = false; } });
    entry.fields.forEach(function (f) {
      var name = f[0], value = f[1];
      if (typeof value !== "string" || name === "base_version") { return; }
      $$("[name='" + name + "']", form).forEach(function (el) {
        if (el.type === "radio" || el.type === "checkbox") {
          if (el.value === value) { el.checked = true; }
        } else if (el.type !== "hidden" && el.type !== "file") {
          el.value = value;
        }
      });
    });
  }

  function preview(entry, blob, container, cls, text) {
    if (!container || container.querySelector("[data-entry='" + entry.id + "']")) { return; }
    if (!previews[entry.id]) { previews[entry.id] = URL.createObjectURL(blob); }
    var fig = document.createElement("figure");
    fig.className = cls;
    fig.setAttribute("data-entry", entry.id);
    fig.innerHTML = '<img alt="待同步的图片" src="' + previews[entry.id] + '"><figcaption>' + esc(text) + "</figcaption>";
    container.insertBefore(fig, container.firstChild);
  }

  function render() {
    return Q.all().then(function (entries) {
      var pending = {}, cards = {};
      entries.forEach(function (e) {
        if (e.page !== PAGE) { return; }
        if (e.row && refOf(e)) { addRow(e.row, refOf(e)); }
        var id = e.form || ("card:" + e.card);
        (pending[id] = pending[id] || []).push(e);
        cards[e.card] = true;
        if (e.kind === "photo") {
          var photo = e.fields.filter(function (f) { return f[1] && f[1].blob; })[0];
          var holder = findForm(e.form);
          if (photo && holder) { preview(e, photo[1].blob, holder.parentNode, "pending-photo", "待同步"); }
        }
        if (e.kind === "sign" || (e.fields || []).some(function (f) { return f[0] === "signature" && f[1] && f[1].dataUrl; })) {
          var sig = e.fields.filter(function (f) { return f[1] && f[1].dataUrl; })[0];
          var sform = findForm(e.form);
          if (sig && sform) { preview(e, sig[1].dataUrl, sform, "pending-sig", "签名待同步"); }
        }
        if (e.kind !== "photo" && e.kind !== "button") { restoreValues(findForm(e.form), e); }
      });
      // Previews of entries that left the queue.
      $$("[data-entry]").forEach(function (n) {
        var id = n.getAttribute("data-entry");
        if (!entries.some(function (e) { return e.id === id; })) {
          n.remove();
          if (previews[id]) { URL.revokeObjectURL(previews[id]); delete previews[id]; }
        }
      });
      var ids = {};
      Object.keys(pending).concat(Object.keys(savedAt), Object.keys(refused)).forEach(function (id) { ids[id] = true; });
      Object.keys(ids).forEach(function (id) {
        var list = pending[id] || [];
        var form = id.indexOf("card:") === 0 ? null : findForm(id);
        var anchor = form;
        if (!anchor) {
          var cardId = id.indexOf("card:") === 0 ? id.slice(5) : (list[0] && list[0].card);
          var card = cardId && document.getElementById(cardId);
          anchor = card && (card.querySelector(".actions") || card.lastElementChild);
          if (!anchor) { return; }
        }
        var node = stateNode(anchor, id);
        var text = "", cls = "";
        var conflict = list.filter(function (e) { return e.state === "conflict"; })[0];
        if (conflict) {
          text = "冲突：请在下方选择保留哪一份"; cls = "is-conflict";
        } else if (list.some(function (e) { return Q.inflight(e.id); })) {
          text = "正在同步……"; cls = "is-sending";
        } else if (list.length) {
          var submit = list.some(function (e) { return e.kind === "submit"; });
          var added = list.filter(function (e) { return e.kind === "button"; }).length;
          text = submit ? "待提交：联网后自动提交" : (added ? "待同步：" + added + " 项操作，联网后自动上传" : "待同步：已存在手机上，联网后自动上传");
          cls = "is-pending";
        } else if (refused[id]) {
          text = refused[id]; cls = "is-refused";
        } else if (savedAt[id]) {
          text = "已保存 " + savedAt[id]; cls = "is-saved";
        }
        node.textContent = text;
        node.className = "sync-state " + cls;
        if (cls === "is-refused") { node.setAttribute("role", "alert"); } else { node.setAttribute("role", "status"); }
      });
      $$(".item-card, section.card").forEach(function (card) {
        var has = cards[card.id] || $$("form", card).some(function (f) { return pending[f.id || f.getAttribute("data-sync-id")]; });
        card.classList.toggle("unsaved", !!has);
      });
      // Offline, the server's list of what is missing is as old as the page: let the
      // server decide when the submit arrives.
      var submit = $("#submit-form button[type=submit]");
      if (submit && entries.some(function (e) { return e.page === PAGE; })) { submit.disabled = false; }
    });
  }

  // ------------------------------------------------------------ conflicts

  function showConflict(entry) {
    var form = findForm(entry.form);
    if (!form) { render(); return; }
    var cardUrl = entry.url;   // GET of the item answers with the whole card
    fetch(cardUrl, {credentials: "same-origin", headers: {"HX-Request": "true"}}).then(function (r) {
      return r.ok ? r.text() : "";
    }).then(function (html) {
      var box = document.createElement("div");
      box.innerHTML = html;
      var theirs = box.querySelector("#" + CSS.escape(form.id));
      var status = box.querySelector(".save-status .when-idle");
      var old = document.querySelector(".conflict[data-for='" + entry.form + "']");
      if (old) { old.remove(); }
      var panel = document.createElement("div");
      panel.className = "conflict";
      panel.setAttribute("data-for", entry.form);
      panel.setAttribute("role", "alert");
      panel.innerHTML = "<p><strong>冲突</strong>：同组检查人员在您之前保存了此项，两份内容不同。请选择保留哪一份（不会自动覆盖）。</p>" +
        '<div class="conflict-sides"><div class="conflict-theirs"><h3>已保存在服务器' + (status ? "（" + esc(status.textContent.trim()) + "）" : "") + "</h3><p>" +
        esc(theirs ? describeForm(theirs) : "—") + '</p><button class="btn btn-small" type="button" data-choose="theirs">采用这一份</button></div>' +
        '<div class="conflict-mine"><h3>您的修改（仅在手机上）</h3><p>' + esc(describeFields(form, entry.fields)) +
        '</p><button class="btn btn-small btn-primary" type="button" data-choose="mine">保留我的</button></div></div>';
      form.parentNode.insertBefore(panel, form.nextSibling);
      panel.addEventListener("click", function (evt) {
        var choice = evt.target.getAttribute && evt.target.getAttribute("data-choose");
        if (!choice) { return; }
        var version = theirs && theirs.querySelector("[name=base_version]");
        if (choice === "theirs") {
          Q.remove(entry).then(function () {
            if (theirs) {
              form.replaceWith(theirs);
              window.htmx.process(theirs);
            }
            panel.remove();
            render();
          });
        } else {
          entry.fields = entry.fields.map(function (f) {
            return f[0] === "base_version" && version ? ["base_version", version.value] : f;
          });
          var current = form.querySelector("[name=base_version]");
          if (current && version) { current.value = version.value; }
          Q.replace(entry, entry.fields).then(function () { panel.remove(); Q.sync(); });
        }
      });
      render();
    });
  }

  // ------------------------------------------------------------ after a reload or a new login

  function restoreDrafts() {
    $$("form.remark-form").forEach(function (form) {
      var text = null;
      try { text = window.localStorage.getItem(draftKey(form)); } catch (e) { /* ignore */ }
      var area = form.querySelector("textarea");
      if (text === null || !area) { return; }
      if (area.value !== text) {
        area.value = text;
        form.setAttribute("data-dirty", "1");
        saveRemark(form);
      } else {
        try { window.localStorage.removeItem(draftKey(form)); } catch (e) { /* ignore */ }
      }
    });
  }

  function start() {
    document.body.setAttribute("data-offline", "ready");
    setSyncIds();
    var back = null;
    try { back = window.sessionStorage.getItem("xcapp-return-to"); window.sessionStorage.removeItem("xcapp-return-to"); } catch (e) { /* ignore */ }
    render().then(function () {
      restoreDrafts();
      Q.all().then(function (entries) {
        entries.filter(function (e) { return e.state === "conflict" && e.page === PAGE; }).forEach(showConflict);
      });
      if (back && document.getElementById(back)) { document.getElementById(back).scrollIntoView(); }
    });
  }
  document.addEventListener("htmx:afterSettle", function () { setSyncIds(); render(); });
  document.addEventListener("click", function (evt) {
    if (evt.target.closest && evt.target.closest("[data-retry]")) { Q.sync(); }
  });
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
