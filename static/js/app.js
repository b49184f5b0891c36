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
