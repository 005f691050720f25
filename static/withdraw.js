// Earnings page: follows a withdrawal's status until it is paid, failed or expired.
(function () {
  "use strict";
  var box = document.getElementById("withdrawal");
  var line = document.getElementById("withdraw-status");
  if (!box || !line) { return; }
  var done = { paid: true, failed: true, expired: true };
  var tries = 0;

  function show(status) {
    var text = box.dataset["text" + status.charAt(0).toUpperCase() + status.slice(1)];
    if (text) { line.textContent = text; }
    box.dataset.status = status;
  }

  function poll() {
    if (++tries > 1200) { return; }  // about 20 minutes: the link has expired by then
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (body) {
        if (!body) { setTimeout(poll, 3000); return; }
        if (body.status !== box.dataset.status) { show(body.status); }
        if (done[body.status]) {
          var qr = box.querySelector(".qr");
          var open = document.getElementById("open-wallet");
          if (qr) { qr.hidden = true; }
          if (open) { open.hidden = true; }
          setTimeout(function () { window.location.assign(window.location.pathname); }, 2500);
          return;
        }
        setTimeout(poll, body.status === "paying" ? 700 : 1500);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }

  if (!done[box.dataset.status]) { poll(); }
})();
