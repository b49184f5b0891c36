// xcapp client glue. Only client-side state lives here; everything that must
// persist goes through an htmx request.
(function () {
  "use strict";

  function showNet(offline) {
    var bar = document.getElementById("net-status");
    if (bar) { bar.hidden = !offline; }
  }
  window.addEventListener("offline", function () { showNet(true); });
  window.addEventListener("online", function () { showNet(false); });

})();

// Upload progress for large import files, and a button that cannot be
// pressed twice while its form is being sent (the server is idempotent too).
(function () {
  "use strict";
  document.addEventListener("htmx:xhr:progress", function (evt) {
    var form = evt.target.closest && evt.target.closest("#import-form");
    var bar = document.getElementById("upload-progress");
    if (!form || !bar || !evt.detail.lengthComputable) { return; }
    bar.hidden = false;
    bar.value = Math.round((evt.detail.loaded / evt.detail.total) * 100);
  });
  document.addEventListener("htmx:beforeRequest", function (evt) {
    if (evt.target.id === "import-form") {
      var status = document.getElementById("upload-status");
      if (status) { status.hidden = false; }
    }
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    if (evt.target.id === "import-form") {
      var status = document.getElementById("upload-status");
      var bar = document.getElementById("upload-progress");
      if (status) { status.hidden = true; }
      if (bar) { bar.hidden = true; bar.value = 0; }
    }
  });
  document.addEventListener("submit", function (evt) {
    var buttons = evt.target.querySelectorAll("[data-disable-on-submit]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = true;
      buttons[i].textContent = "正在处理……";
    }
  });
})();

// Checklist: exclusive options, focus kept across saves, confirmations.
(function () {
  "use strict";

  // Item 11: 无 (radio) clears the 有 boxes and vice versa, before htmx reads the form.
  document.addEventListener("change", function (evt) {
    var input = evt.target;
    if (!input || input.name !== "record" || !input.checked || !input.form) { return; }
    var form = input.form;
    if (!form.classList.contains("answer-form")) { return; }
    var others = form.querySelectorAll("input[name=record]");
    for (var i = 0; i < others.length; i++) {
      var other = others[i];
      if (other === input || !other.checked) { continue; }
      if (input.type === "radio" || other.type === "radio") { other.checked = false; }
    }
  }, true);

  // aria-busy while saving (never disabled: that drops the focus); refocus by id after the swap.
  var focusedId = null;
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = evt.detail && evt.detail.elt;
    if (!elt || !elt.setAttribute) { return; }
    elt.setAttribute("aria-busy", "true");
    var active = document.activeElement;
    focusedId = active && active.id && elt.contains(active) ? active.id : focusedId;
  });
  function settle(evt) {
    var elt = evt.detail && evt.detail.elt;
    if (elt && elt.removeAttribute) { elt.removeAttribute("aria-busy"); }
    if (!focusedId) { return; }
    var active = document.activeElement;
    if (active && active !== document.body && active.id !== focusedId) { focusedId = null; return; }
    var again = document.getElementById(focusedId);
    if (again && again !== active) { again.focus({ preventScroll: true }); }
    if (again) { focusedId = null; }
  }
  document.addEventListener("htmx:afterRequest", settle);
  document.addEventListener("htmx:afterSettle", settle);
  // The sync queue (autosave.js) marks a form's .sync-state[data-for] is-sending: busy meanwhile.
  if (window.MutationObserver) {
    new MutationObserver(function (records) {
      for (var i = 0; i < records.length; i++) {
        var n = records[i].target, form = n.classList && n.classList.contains("sync-state") &&
          document.getElementById(n.getAttribute("data-for") || "");
        if (form) { form.setAttribute("aria-busy", n.classList.contains("is-sending") ? "true" : "false"); }
      }
    }).observe(document.documentElement, { subtree: true, attributes: true, attributeFilter: ["class"] });
  }

  // 跳到未填项 and the blocker links move the focus too.
  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest("a[data-jump]");
    if (!link) { return; }
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) { return; }
    evt.preventDefault();
    target.scrollIntoView({ block: "start" });
    var first = target.querySelector("input:not([type=hidden]):not([disabled]), select, textarea, button, summary, a");
    if (first) { first.focus({ preventScroll: true }); }
    if (history.replaceState) { history.replaceState(null, "", "#" + target.id); }
  });

  // form[data-confirm-dialog] opens that <dialog> first; form[data-confirm] asks confirm().
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var dialog = form.getAttribute && form.getAttribute("data-confirm-dialog");
    if (dialog) {
      var box = document.getElementById(dialog);
      if (form.getAttribute("data-confirmed") === "1" || !box || typeof box.showModal !== "function") { return; }
      evt.preventDefault();
      evt.stopImmediatePropagation();
      box.showModal();
      return;
    }
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      evt.preventDefault();
      evt.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("dialog.confirm [data-dialog-close], dialog.confirm [data-dialog-confirm]");
    if (!button) { return; }
    var box = button.closest("dialog");
    box.close();
    if (button.hasAttribute("data-dialog-confirm")) {
      var form = document.getElementById(button.getAttribute("data-dialog-confirm"));
      if (form) {
        form.setAttribute("data-confirmed", "1");
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      }
    }
  });
})();

// The phone's offline code (sync queue, service worker; static/js/offline.min.js) is
// loaded once the page is usable, so the first load on a slow network stays small.
(function () {
  "use strict";
  var meta = document.querySelector("meta[name=xcapp-offline]");
  if (!meta) { return; }
  var load = function () {
    var script = document.createElement("script");
    script.src = meta.getAttribute("content");
    document.head.appendChild(script);
  };
  if (document.readyState === "complete") { load(); } else { window.addEventListener("load", load); }
})();

// Sideways-scrolling tables must be keyboard-reachable (templates mark them; this catches the rest).
(function () {
  "use strict";
  function mark(root) {
    if (!root || !root.querySelectorAll) { return; }
    var list = root.querySelectorAll(".table-wrap:not([tabindex])");
    for (var i = 0; i < list.length; i++) {
      list[i].setAttribute("tabindex", "0");
      list[i].setAttribute("role", "region");
      if (!list[i].hasAttribute("aria-label")) { list[i].setAttribute("aria-label", "表格（可左右滑动）"); }
    }
  }
  document.addEventListener("htmx:load", function (e) { mark(e.detail && e.detail.elt && e.detail.elt.parentNode); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { mark(document); });
  } else { mark(document); }
})();
