// Never lose an answer: every [data-autosave] form saves through htmx; a save that
// fails for lack of network (or an expired login) is kept in localStorage, marked
// 未保存 on its card, and sent again - with the same idempotency key, so the server
// applies it once - when the connection returns, on the retry button, or after login.
(function () {
  "use strict";
  var STORE = "xcapp-pending";

  function uuid() {
    if (window.crypto && window.crypto.getRandomValues) {
      var b = new Uint8Array(16);
      window.crypto.getRandomValues(b);
      return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
    }
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }
  function load() {
    try { return JSON.parse(window.localStorage.getItem(STORE) || "{}"); } catch (e) { return {}; }
  }
  function store(all) {
    try { window.localStorage.setItem(STORE, JSON.stringify(all)); } catch (e) { /* private mode */ }
  }
  function formId(form) {
    if (!form.id) { return null; }
    return window.location.pathname + "#" + form.id;
  }
  function values(form) {
    var out = [];
    var els = form.elements;
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (!el.name || el.type === "file") { continue; }
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) { continue; }
      out.push([el.name, el.value]);
    }
    return out;
  }
  function card(form) { return form.closest(".item-card, .card") || form; }
  function markUnsaved(form, on) {
    // The form may have been swapped out already: find its card by the remembered id.
    var c = (form.dataset.cardId && document.getElementById(form.dataset.cardId)) || card(form);
    if (!c) { return; }
    if (on) {
      c.classList.add("unsaved");
    } else if (!c.querySelector("[data-pending-key]") || !document.body.contains(form)) {
      c.classList.remove("unsaved");
    }
  }
  function remember(form) {
    var id = formId(form);
    if (!id) { return; }
    var all = load();
    all[id] = {key: form.dataset.pendingKey, values: values(form), at: Date.now()};
    store(all);
  }
  function forget(form) {
    var id = formId(form);
    if (!id) { return; }
    var all = load();
    delete all[id];
    store(all);
  }

  document.addEventListener("htmx:configRequest", function (evt) {
    var form = evt.detail.elt.closest && evt.detail.elt.closest("[data-autosave]");
    if (!form) { return; }
    if (!form.dataset.pendingKey) { form.dataset.pendingKey = uuid(); }
    if (!form.dataset.cardId && card(form).id) { form.dataset.cardId = card(form).id; }
    evt.detail.parameters.save_key = form.dataset.pendingKey;
    remember(form);
  });
  function settled(form) {
    delete form.dataset.pendingKey;
    forget(form);
    markUnsaved(form, false);
  }
  // Success is handled before the swap: a form replaced by its response is detached
  // afterwards, and events on detached elements never reach the document.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var form = evt.detail.elt.closest && evt.detail.elt.closest("[data-autosave]");
    var status = evt.detail.xhr ? evt.detail.xhr.status : 0;
    if (form && status >= 200 && status < 300) { settled(form); }
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var form = evt.detail.elt.closest && evt.detail.elt.closest("[data-autosave]");
    if (!form) { return; }
    var xhr = evt.detail.xhr;
    var status = xhr ? xhr.status : 0;
    if (status >= 200 && status < 300) {
      settled(form);
    } else if (status === 0 || status === 401 || status >= 500) {
      // Network failure, expired login or server trouble: keep it and try again.
      markUnsaved(form, true);
    } else {
      // Refused input (422) or a conflict (409): the swapped card says why.
      delete form.dataset.pendingKey;
      forget(form);
    }
  });
  document.addEventListener("htmx:sendError", function (evt) {
    var form = evt.detail.elt.closest && evt.detail.elt.closest("[data-autosave]");
    if (form) { markUnsaved(form, true); }
  });
  document.addEventListener("htmx:beforeOnLoad", function (evt) {
    if (evt.detail.xhr && evt.detail.xhr.status === 401) {
      var form = evt.detail.elt.closest && evt.detail.elt.closest("[data-autosave]");
      if (form) {
        remember(form);
        try { window.sessionStorage.setItem("xcapp-return-to", card(form).id || ""); } catch (e) { /* ignore */ }
      }
    }
  });

  function retryAll() {
    if (navigator.onLine === false) { return; }
    var cards = document.querySelectorAll(".unsaved");
    for (var i = 0; i < cards.length; i++) {
      var forms = cards[i].matches("[data-autosave]") ? [cards[i]] : cards[i].querySelectorAll("[data-autosave]");
      for (var j = 0; j < forms.length; j++) {
        if (forms[j].dataset.pendingKey) { window.htmx.trigger(forms[j], "retry"); }
      }
    }
  }
  window.addEventListener("online", retryAll);
  window.setInterval(retryAll, 10000);
  document.addEventListener("click", function (evt) {
    if (evt.target.closest && evt.target.closest("[data-retry]")) { retryAll(); }
  });

  // After a reload or a new login: put unsent values back and send them again.
  function restore() {
    var all = load();
    Object.keys(all).forEach(function (id) {
      var hash = id.indexOf("#");
      if (id.slice(0, hash) !== window.location.pathname) { return; }
      var form = document.getElementById(id.slice(hash + 1));
      if (!form) { return; }
      var saved = all[id];
      var els = form.elements;
      for (var i = 0; i < els.length; i++) {
        var el = els[i];
        if (el.type === "radio" || el.type === "checkbox") { el.checked = false; }
      }
      saved.values.forEach(function (pair) {
        var matches = form.querySelectorAll("[name='" + pair[0] + "']");
        for (var k = 0; k < matches.length; k++) {
          var el = matches[k];
          if (el.type === "radio" || el.type === "checkbox") {
            if (el.value === pair[1]) { el.checked = true; }
          } else if (el.type !== "hidden" || pair[0] !== "base_version") {
            el.value = pair[1];
          }
        }
      });
      form.dataset.pendingKey = saved.key || uuid();
      markUnsaved(form, true);
    });
    var back = null;
    try { back = window.sessionStorage.getItem("xcapp-return-to"); window.sessionStorage.removeItem("xcapp-return-to"); } catch (e) { /* ignore */ }
    if (back && document.getElementById(back)) { document.getElementById(back).scrollIntoView(); }
    retryAll();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", restore);
  } else {
    restore();
  }

  // Optional position on submit, only when the officer ticks the box.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!form.matches("[data-geo]")) { return; }
    var share = form.querySelector("[name=share_location]");
    if (!share || !share.checked || !navigator.geolocation || form.dataset.geoDone) { return; }
    evt.preventDefault();
    var done = function () { form.dataset.geoDone = "1"; form.submit(); };
    navigator.geolocation.getCurrentPosition(function (pos) {
      form.querySelector("[name=lat]").value = pos.coords.latitude;
      form.querySelector("[name=lon]").value = pos.coords.longitude;
      form.querySelector("[name=accuracy]").value = pos.coords.accuracy;
      done();
    }, done, {timeout: 8000, maximumAge: 60000});
  });
})();
