// The phone's sync queue: every change of the checklist is written to IndexedDB
// first (photos and signatures as blobs) and sent from there, in order, one at a
// time, each with its own key. An entry leaves the queue only when the server
// acknowledged exactly what it carries (a key is bound to its content on the
// server: a key reused for other content is refused and the entry gets a new key).
// Sent on load, on reconnect, when the page becomes visible and every 15 s; an
// expired CSRF token is refreshed, an expired login resumes after the new login.
// Also: the top bar "N 项待同步 · 上次同步 HH:MM" and the service worker that keeps
// the checklists of the officer's open tasks for use without network.
(function () {
  "use strict";
  var kv = window.idbKeyval;
  if (!kv || !window.indexedDB || !window.Promise) { return; }   // old browser: online only, as before
  var queueStore = kv.createStore("xcapp-queue", "entries");
  var metaStore = kv.createStore("xcapp-meta", "meta");
  var counter = 0, syncing = false, again = false, inflight = {}, listeners = [];
  // Changes of different forms do not depend on each other: up to LANES of them are
  // in flight at once (the latency of a slow network overlaps); anything else (rows
  // added, the equipment table, the enterprise section, submit) goes alone, in order.
  var LANES = 3, INDEPENDENT = {answer: true, remark: true, photo: true, sign: true};
  var csrf = null, refreshTimer = null;

  function uuid() {
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }
  function pageToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"]; } catch (e) { return null; }
  }
  function hhmm(date) {
    return ("0" + date.getHours()).slice(-2) + ":" + ("0" + date.getMinutes()).slice(-2);
  }

  // Each entry belongs to the officer who made it: another officer logged in on the same
  // phone never sends, sees or counts it (it waits until its owner logs in again).
  function currentUser() {
    var m = document.querySelector('meta[name="xcapp-user"]');
    return m ? m.getAttribute("content") : "";
  }
  function allUsers() {
    return kv.entries(queueStore).then(function (pairs) {
      return pairs.map(function (p) { return p[1]; }).sort(function (a, b) { return a.seq - b.seq; });
    });
  }
  function all() {
    var me = currentUser();
    return allUsers().then(function (entries) {
      return entries.filter(function (e) { return !me || !e.user || e.user === me; });
    });
  }
  function put(entry) { return kv.set(entry.id, entry, queueStore); }
  function remove(entry) { return kv.del(entry.id, queueStore); }

  function add(entry) {
    entry.seq = entry.seq || Date.now() * 1000 + (counter++ % 1000);
    entry.id = entry.id || ("e" + entry.seq + "-" + uuid().slice(0, 6));
    entry.key = uuid();
    entry.at = entry.at || Date.now();   // when its fields were read from the page
    entry.state = entry.state || "pending";
    entry.page = entry.page || window.location.pathname;
    entry.user = entry.user || currentUser();
    return put(entry).then(function () { changed(); return entry; });
  }
  // A newer content for the same form replaces an unsent older one (with a new key:
  // the old one may have reached the server with its response lost).
  function replace(entry, fields, at) {
    entry.fields = fields;
    entry.key = uuid();
    entry.at = at || Date.now();
    entry.state = "pending";
    return put(entry).then(function () { changed(); return entry; });
  }

  function toFormData(entry) {
    var fd = new FormData();
    entry.fields.forEach(function (f) {
      var value = f[1];
      if (value && typeof value === "object" && value.blob) {
        fd.append(f[0], value.blob, value.filename || "photo.jpg");
      } else {
        fd.append(f[0], value);
      }
    });
    fd.append("save_key", entry.key);
    return fd;
  }

  function blobToDataUrl(blob) {
    return new Promise(function (resolve, reject) {
      var r = new FileReader();
      r.onload = function () { resolve(r.result); };
      r.onerror = reject;
      r.readAsDataURL(blob);
    });
  }
  // Signatures travel as data URLs (the form's format) but are kept as blobs.
  function prepare(entry) {
    var jobs = entry.fields.map(function (f) {
      if (f[1] && typeof f[1] === "object" && f[1].dataUrl) {
        return blobToDataUrl(f[1].dataUrl).then(function (url) { return [f[0], url]; });
      }
      return Promise.resolve(f);
    });
    return Promise.all(jobs).then(function (fields) {
      var copy = Object.assign({}, entry);
      copy.fields = fields;
      return copy;
    });
  }

  function send(entry) {
    return prepare(entry).then(function (ready) {
      return new Promise(function (resolve) {
        var xhr = new XMLHttpRequest();
        xhr.open("POST", entry.url);
        xhr.timeout = entry.kind === "photo" ? 120000 : 30000;
        xhr.setRequestHeader("HX-Request", "true");
        xhr.setRequestHeader("HX-Current-URL", window.location.href);
        if (entry.target) { xhr.setRequestHeader("HX-Target", entry.target); }
        xhr.setRequestHeader("X-CSRFToken", csrf || pageToken() || "");
        if (xhr.upload && entry.kind === "photo") {
          xhr.upload.onprogress = function (e) { emit("progress", entry, e.lengthComputable ? e.loaded / e.total : null); };
        }
        xhr.onload = function () {
          resolve({status: xhr.status, body: xhr.responseText, xhr: xhr});
        };
        xhr.onerror = xhr.ontimeout = xhr.onabort = function () { resolve({status: 0, body: "", xhr: xhr}); };
        xhr.send(toFormData(ready));
      });
    });
  }

  function refreshToken() {
    return fetch("/inspections/csrf-token", {credentials: "same-origin", headers: {"HX-Request": "true"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && data.token) { csrf = data.token; return true; } return false; })
      .catch(function () { return false; });
  }

  function emit(name, entry, extra) {
    listeners.forEach(function (fn) { try { fn(name, entry, extra); } catch (e) { if (window.console) { console.error(e); } } });
  }

  // One entry: resolves to "next" (go on), "stop" (try later) or "again" (send it again now).
  function sendOne(entry) {
    inflight[entry.id] = entry;
    emit("sending", entry);
    return send(entry).then(function (r) {
      var xhr = r.xhr;
      if (r.status === 0) { emit("offline", entry); return "stop"; }
      if (r.status === 401) {
        emit("login", entry);
        var target = xhr.getResponseHeader("HX-Redirect");
        try { window.sessionStorage.setItem("xcapp-return-to", entry.card || ""); } catch (e) { /* ignore */ }
        if (target) { window.location.href = target; }
        return "stop";
      }
      if (r.status === 409 && xhr.getResponseHeader("X-Save-Key-Reused")) {
        entry.key = uuid();
        return put(entry).then(function () { return "again"; });
      }
      if (r.status === 400 && !entry.csrfRetried) {
        entry.csrfRetried = true;
        return refreshToken().then(function (ok) { return ok ? "again" : "stop"; });
      }
      if (r.status >= 500 || r.status === 429) { emit("busy", entry); return "stop"; }
      if (r.status === 409 && xhr.getResponseHeader("X-Save-Conflict")) {
        entry.state = "conflict";
        entry.message = r.body;
        return put(entry).then(function () { emit("conflict", entry, r); return "next"; });
      }
      if (r.status >= 400) {
        // Refused (422, or a refused submit): it cannot be sent as it is; the form keeps
        // what was typed, with the reason beside it.
        return remove(entry).then(function () { emit("refused", entry, r); return "next"; });
      }
      var at = xhr.getResponseHeader("X-Saved-At") || "";
      return remove(entry).then(function () {
        return kv.set("lastSync", Date.now(), metaStore);
      }).then(function () {
        emit("saved", entry, {response: r, at: at});
        var redirect = xhr.getResponseHeader("HX-Redirect");
        if (redirect && entry.kind === "submit") {
          var to = new URL(redirect, window.location.href);
          if (to.pathname === window.location.pathname) { window.location.reload(); } else { window.location.href = redirect; }
          return "stop";
        }
        return "next";
      });
    }).catch(function (e) {
      if (window.console) { console.error(e); }
      return "stop";
    });
  }

  function sync() {
    if (syncing) { again = true; return Promise.resolve(); }
    syncing = true;
    // A pool: as soon as one change is answered the next one goes (a batch would
    // wait for its slowest member, a photo). Nothing overtakes an entry of the same
    // form, and an entry that is not independent waits until everything before it
    // was answered and goes alone.
    var goOn = function () {
      return new Promise(function (done) {
        var running = {}, busyForms = {}, finished = {}, count = 0, stopped = false, alone = false;
        function launch(entry) {
          count++;
          running[entry.id] = true;
          busyForms[entry.form] = true;
          sendOne(entry).then(function (result) {
            delete inflight[entry.id];
            count--;
            if (result === "again" && !stopped) { launch(entry); return; }   // a new key or token: at once
            delete running[entry.id];
            delete busyForms[entry.form];
            finished[entry.id] = true;
            if (result === "stop") { stopped = true; }
            alone = false;
            changed();
            next();
          });
        }
        function next() {
          if (stopped || alone) { if (!count) { done(); } return; }
          all().then(function (entries) {
            if (stopped || alone) { if (!count) { done(); } return; }
            var ready = entries.filter(function (e) { return e.state === "pending" && !finished[e.id]; });
            for (var i = 0; i < ready.length; i++) {
              var e = ready[i];
              if (running[e.id] || busyForms[e.form]) { continue; }
              if (!INDEPENDENT[e.kind]) {
                if (!count) { alone = true; launch(e); }
                break;
              }
              if (count >= LANES) { break; }
              launch(e);
            }
            if (!count) { done(); }
          }).catch(function () { stopped = true; if (!count) { done(); } });
        }
        next();
      });
    };
    return goOn().then(function () {
      syncing = false;
      inflight = {};
      changed();
      if (again) { again = false; return sync(); }
    }, function () { syncing = false; inflight = {}; });
  }

  var bar = null;
  function renderBar() {
    if (!bar) { return Promise.resolve(); }
    return Promise.all([all(), kv.get("lastSync", metaStore)]).then(function (res) {
      var waiting = res[0].filter(function (e) { return e.state !== "refused"; }).length;
      var text = waiting + " 项待同步";
      if (res[1]) { text += " · 上次同步 " + hhmm(new Date(res[1])); }
      bar.querySelector(".sync-count").textContent = text;
      bar.classList.toggle("sync-bar-pending", waiting > 0);
    });
  }
  function changed() {
    renderBar();
    emit("changed");
  }

  function setupBar() {
    var top = document.querySelector(".topbar");
    if (!top || document.getElementById("sync-bar")) { return; }
    bar = document.createElement("div");
    bar.id = "sync-bar";
    bar.className = "sync-bar";
    bar.setAttribute("role", "status");
    bar.innerHTML = '<span class="sync-count">正在读取手机上的待同步内容……</span>';
    top.parentNode.insertBefore(bar, top.nextSibling);
    renderBar();
  }

  // The service worker keeps the app shell and, whenever 我的任务 is opened with a
  // connection, the checklists of the officer's open tasks.
  function setupWorker() {
    if (!("serviceWorker" in navigator)) { return; }
    var controlled = !!navigator.serviceWorker.controller;
    navigator.serviceWorker.register("/inspections/sw.js", {scope: "/inspections/"}).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      // A page the worker served is cached already; 我的任务 brings its tasks' checklists.
      var pages = controlled ? [] : [window.location.pathname];
      var links = document.querySelectorAll("a[data-offline], .row-card a.row-title");
      for (var i = 0; i < links.length; i++) { pages.push(links[i].getAttribute("href")); }
      var assets = [];
      var tags = document.querySelectorAll("script[src], link[rel=stylesheet][href]");
      for (var j = 0; j < tags.length; j++) { assets.push(tags[j].getAttribute("src") || tags[j].getAttribute("href")); }
      if (!reg.active || navigator.onLine === false) { return; }
      // On 我的任务 the records of tasks still 待检查 are prepared first, so that their
      // cached checklists work from 开始检查 on without network.
      var ready = links.length && document.body.classList.contains("my-tasks-page") ?
        fetch("/inspections/mine/prepare", {method: "POST", credentials: "same-origin",
                                             headers: {"X-CSRFToken": pageToken() || "", "HX-Request": "true"}})
          .catch(function () { return null; }) : Promise.resolve();
      return ready.then(function () { reg.active.postMessage({type: "cache", pages: pages, assets: assets}); });
    }).catch(function () { /* no service worker: online only, as before */ });
  }

  // Logout clears the phone for its next user: the queue, the drafts and the cached
  // checklists. Unsent work is never dropped silently: with changes still waiting the
  // officer is told how many and chooses to stay (and sync) or to delete them.
  function clearPhone() {
    var jobs = [kv.clear(queueStore), kv.clear(metaStore)];
    try {
      Object.keys(window.localStorage).forEach(function (k) {
        if (k.indexOf("xcapp-draft:") === 0) { window.localStorage.removeItem(k); }
      });
      window.sessionStorage.removeItem("xcapp-return-to");
    } catch (e) { /* storage unavailable */ }
    if (window.caches) {
      jobs.push(window.caches.keys().then(function (keys) {
        return Promise.all(keys.filter(function (k) { return k.indexOf("xcapp-") === 0; })
          .map(function (k) { return window.caches.delete(k); }));
      }));
    }
    return Promise.all(jobs).catch(function (e) { if (window.console) { console.error(e); } });
  }
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!form.classList || !form.classList.contains("logout")) { return; }
    evt.preventDefault();
    allUsers().then(function (entries) {
      var typing = document.querySelectorAll("form[data-dirty]");   // a remark not queued yet
      var waiting = entries.length + typing.length;
      if (waiting && !window.confirm("手机上还有 " + waiting + " 项待同步，尚未保存到服务器。\n" +
          "退出登录会从手机上删除这些内容，且无法恢复。建议取消，联网等到“0 项待同步”后再退出。\n\n仍要退出并删除吗？")) {
        sync();
        return null;
      }
      Array.prototype.forEach.call(typing, function (f) { f.removeAttribute("data-dirty"); });
      return clearPhone().then(function () { HTMLFormElement.prototype.submit.call(form); });
    });
  });

  window.xcappSync = {
    add: add, replace: replace, all: all, put: put, remove: remove, sync: sync, uuid: uuid,
    on: function (fn) { listeners.push(fn); },
    inflight: function (id) { return !!inflight[id]; },
    // The cached copy of this page follows what the server stored (a few seconds after
    // the last acknowledged save, not after each one).
    refreshPage: function () {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(function () {
        if (navigator.serviceWorker && navigator.serviceWorker.controller) {
          navigator.serviceWorker.controller.postMessage({type: "cache", pages: [window.location.pathname], assets: []});
        }
      }, 3000);
    }
  };

  function start() {
    if (!document.body.classList.contains("checklist-page")) { document.body.setAttribute("data-offline", "ready"); }
    setupBar();
    sync();
    // The worker fills its cache a little after the page is usable, never competing
    // with the first taps on a slow network.
    window.setTimeout(setupWorker, 4000);
  }
  window.addEventListener("online", function () { sync(); });
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") { sync(); } });
  window.setInterval(function () { sync(); }, 15000);
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
