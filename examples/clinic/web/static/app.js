// Idle-timeout warning with a countdown, and automatic logoff, for the
// clinic UI. The server enforces the timeout; this script tells the user,
// extends the session on "Stay signed in" (POST /api/auth/session/keepalive)
// and moves the page to the login screen once the session has ended.
(function () {
  "use strict";
  var body = document.body;
  var idle = parseInt(body.getAttribute("data-idle-seconds"), 10);
  var banner = document.getElementById("idle-warning");
  if (!idle || idle <= 0 || !banner) { return; }
  var warnFor = Math.min(60, Math.ceil(idle / 5)); // the last minute (or fifth)
  var count = document.getElementById("idle-countdown");
  var last = Date.now();
  function expired() { window.location.assign("/login?expired=1"); }
  function tick() {
    var left = Math.ceil(idle - (Date.now() - last) / 1000);
    if (left <= 0) { expired(); return; }
    banner.hidden = left > warnFor;
    count.textContent = String(left);
  }
  // Every request the page makes to the server counts as activity there.
  window.hkActivity = function () { last = Date.now(); tick(); };
  document.getElementById("stay").addEventListener("click", function () {
    fetch("/api/auth/session/keepalive", {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": body.getAttribute("data-csrf") || "" }
    }).then(function (r) {
      if (r.status === 401) { expired(); return; }
      window.hkActivity();
    });
  });
  tick();
  setInterval(tick, 1000);
})();
