// Sign-in page: polls until the wallet has signed the k1, then moves on by itself.
(function () {
  "use strict";
  var box = document.getElementById("login");
  var status = document.getElementById("login-status");
  var tries = 0;

  function poll() {
    if (++tries > 600) { status.textContent = ""; return; }  // the code has expired by then
    fetch(box.dataset.poll, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (res) {
        // 200: signed in; 410: this code's token went out already (another tab of ours).
        if (res.status === 200 || res.status === 410) { window.location.assign(box.dataset.next); return; }
        if (res.status === 404) { window.location.reload(); return; }  // expired: fresh code
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }

  var demo = document.getElementById("demo-wallet");
  if (demo) {
    demo.addEventListener("submit", function (e) {
      e.preventDefault();
      fetch(demo.action, { method: "POST", body: new FormData(demo), credentials: "same-origin" });
    });
  }
  poll();
})();
