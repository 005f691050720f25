// Wallet pages (sign-in, withdraw): copy an LNURL, follow a login or a withdrawal until it is done.
(function () {
  "use strict";

  // "Copy the code": opening it copies the code (Clipboard API, else a selection and execCommand).
  function copyText(code) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(code.textContent);
    }
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  Array.prototype.forEach.call(document.querySelectorAll("details.copy"), function (box) {
    var code = box.querySelector("code");
    var status = box.querySelector(".copy-status");
    box.querySelector("summary").addEventListener("click", function () {
      if (box.open) { status.textContent = ""; return; }  // this click closes it
      copyText(code).then(
        function () { status.textContent = box.dataset.copied; status.className = "copy-status copied"; },
        function () { status.textContent = box.dataset.copyFailed; status.className = "copy-status"; }
      );
    });
  });

  // Sign-in: polls until the wallet has signed the k1, then moves on by itself.
  var login = document.getElementById("login");
  if (login) {
    var loginStatus = document.getElementById("login-status");
    var loginTries = 0;
    var pollLogin = function () {
      if (++loginTries > 600) { loginStatus.textContent = ""; return; }  // the code has expired by then
      fetch(login.dataset.poll, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (res) {
          // 200: signed in; 410: this code's token went out already (another tab of ours).
          if (res.status === 200 || res.status === 410) { window.location.assign(login.dataset.next); return; }
          if (res.status === 404) { window.location.reload(); return; }  // expired: fresh code
          setTimeout(pollLogin, 1000);
        })
        .catch(function () { setTimeout(pollLogin, 3000); });
    };
    var demo = document.getElementById("demo-wallet");
    if (demo) {
      demo.addEventListener("submit", function (e) {
        e.preventDefault();
        fetch(demo.action, { method: "POST", body: new FormData(demo), credentials: "same-origin" });
      });
    }
    pollLogin();
  }

  // Withdraw: follows the withdrawal's status in place until it is paid, failed or expired.
  var box = document.getElementById("withdrawal");
  var line = document.getElementById("withdraw-status");
  if (!box || !line) { return; }
  var done = { paid: true, failed: true, expired: true };
  var tries = 0;

  function show(status) {
    var key = status.charAt(0).toUpperCase() + status.slice(1);
    if (box.dataset["text" + key]) { line.textContent = box.dataset["text" + key]; }
    var row = document.getElementById("withdrawal-" + box.dataset.id);
    var tag = row && row.querySelector(".tag");
    if (tag && box.dataset["label" + key]) {
      tag.textContent = box.dataset["label" + key];
      row.className = "withdrawal-" + status;
    }
    box.dataset.status = status;
  }

  function finish(status) {
    var qr = box.querySelector(".qr");
    var open = document.getElementById("open-wallet");
    var copy = box.querySelector("details.copy");
    [qr, open, copy].forEach(function (el) { if (el) { el.hidden = true; } });
    if (status !== "paid") {
      // The amount is back in the balance: the page shows the withdraw form again, and this outcome.
      setTimeout(function () {
        window.location.assign(window.location.pathname + "?withdrawal=" + box.dataset.id + "#withdraw");
      }, 2500);
    }
  }

  function poll() {
    if (++tries > 1200) { return; }  // about 20 minutes: the link has expired by then
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (body) {
        if (!body) { setTimeout(poll, 3000); return; }
        if (body.status !== box.dataset.status) { show(body.status); }
        if (done[body.status]) { finish(body.status); return; }
        setTimeout(poll, body.status === "paying" ? 700 : 1500);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }

  if (!done[box.dataset.status]) { poll(); }
})();
