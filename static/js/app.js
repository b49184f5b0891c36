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
