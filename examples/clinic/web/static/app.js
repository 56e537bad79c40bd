// Idle-timeout warning and automatic logoff for the clinic UI. The server
// enforces the timeout; this script only tells the user and moves the page
// to the login screen when the server-side session has ended.
(function () {
  "use strict";
  var body = document.body;
  var idle = parseInt(body.getAttribute("data-idle-seconds"), 10);
  if (!idle || idle <= 0) { return; }
  var warnAt = Math.max(idle - 60, Math.floor(idle * 0.8));
  var banner = document.getElementById("idle-warning");
  var last = Date.now();
  function expired() { window.location.assign("/login?expired=1"); }
  function tick() {
    var elapsed = (Date.now() - last) / 1000;
    if (elapsed >= idle) { expired(); return; }
    if (banner) { banner.hidden = elapsed < warnAt; }
  }
  var stay = document.getElementById("stay");
  if (stay) {
    stay.addEventListener("click", function () {
      fetch("/api/session/keepalive", {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": body.getAttribute("data-csrf") || "" }
      }).then(function (r) {
        if (r.status === 401) { expired(); return; }
        last = Date.now(); tick();
      });
    });
  }
  setInterval(tick, 1000);
})();
