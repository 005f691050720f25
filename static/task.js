// Task page: renders one task, collects the answer (tap to choose / rank / score),
// submits it and loads the next task without reloading the page.
(function () {
  "use strict";
  var app = document.getElementById("task-app");
  var T = JSON.parse(document.getElementById("i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var state = { task: null, ranking: [], scores: {} };
  var retryTimer = null;

  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function api(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), "Accept": "application/json" },
      body: body ? JSON.stringify(body) : undefined
    });
  }

  var sayTimer = null;
  function say(text, brief) {
    clearTimeout(sayTimer);
    $("status").textContent = text || "";
    if (brief) sayTimer = setTimeout(say, 4000);
  }

  function sats(msat) { return Math.floor(msat / 1000).toLocaleString() + " " + T.sats; }

  function setBalance(msat) {
    var el = $("balance-sats");
    if (el) el.textContent = sats(msat);
  }

  function show(payload) {
    clearTimeout(retryTimer);
    state = { task: payload, ranking: [], scores: {} };
    if (!payload) {
      $("task").hidden = true;
      $("empty").hidden = false;
      retryTimer = setTimeout(next, 30000);
      return;
    }
    var t = payload.task;
    $("empty").hidden = true;
    $("task").hidden = false;
    $("instructions").hidden = !t.instructions;
    $("instructions-body").innerHTML = t.instructions_html || "";
    $("prompt").textContent = t.prompt;
    $("hint").textContent = T[t.type];
    $("rationale").value = "";
    $("reward").textContent = "+" + sats(payload.reward_msat);
    var bonus = payload.bonus;
    $("bonus").hidden = !bonus;
    if (bonus) {
      $("bonus").textContent = bonus.your_trust >= bonus.min_trust
        ? T.bonus_yes + sats(bonus.bonus_msat)
        : T.bonus_no.replace("%(min)s", bonus.min_trust).replace("%(bonus)s", sats(bonus.bonus_msat))
            .replace("%(trust)s", bonus.your_trust);
    }
    $("undo").hidden = t.type !== "ranking";
    var list = $("responses");
    list.textContent = "";
    list.className = "responses " + t.type;
    t.responses.forEach(function (r, i) {
      var li = document.createElement("li");
      var card = document.createElement(t.type === "likert" ? "div" : "button");
      card.className = "card";
      card.dataset.id = r.id;
      var badge = document.createElement("span");
      badge.className = "badge";
      var label = document.createElement("span");
      label.className = "sr-only";
      label.textContent = T.answer + " " + (i + 1) + ": ";
      var text = document.createElement("span");
      text.className = "text";
      text.textContent = r.text;
      card.appendChild(badge);
      if (t.type !== "likert") {
        var key = document.createElement("kbd");
        key.className = "key desk";
        key.setAttribute("aria-hidden", "true");
        key.textContent = String(i + 1);
        card.appendChild(key);
      }
      card.appendChild(label);
      card.appendChild(text);
      if (t.type === "likert") {
        var group = document.createElement("div");
        group.className = "scale";
        group.setAttribute("role", "radiogroup");
        group.setAttribute("aria-label", T.score + " " + T.answer + " " + (i + 1));
        for (var s = 1; s <= 7; s++) {
          var b = document.createElement("button");
          b.type = "button";
          b.textContent = String(s);
          b.dataset.score = String(s);
          b.setAttribute("role", "radio");
          b.setAttribute("aria-checked", "false");
          group.appendChild(b);
        }
        card.appendChild(group);
      } else {
        card.type = "button";
        card.setAttribute("aria-pressed", "false");
      }
      li.appendChild(card);
      list.appendChild(li);
    });
    refresh();
    window.scrollTo(0, 0);
  }

  function complete() {
    var t = state.task.task;
    if (t.type === "likert") return Object.keys(state.scores).length === t.responses.length;
    return state.ranking.length >= t.responses.length - 1;
  }

  function refresh() {
    var t = state.task.task;
    Array.prototype.forEach.call($("responses").querySelectorAll(".card"), function (card) {
      var id = card.dataset.id;
      if (t.type === "likert") {
        Array.prototype.forEach.call(card.querySelectorAll("[data-score]"), function (b) {
          b.setAttribute("aria-checked", String(state.scores[id] === Number(b.dataset.score)));
        });
        card.classList.toggle("chosen", id in state.scores);
        return;
      }
      var rank = state.ranking.indexOf(id);
      card.setAttribute("aria-pressed", String(rank >= 0));
      card.classList.toggle("chosen", rank >= 0);
      card.querySelector(".badge").textContent = rank < 0 ? "" : t.type === "pairwise" ? "✓" : "#" + (rank + 1);
    });
    $("submit").disabled = !complete();
    $("undo").disabled = state.ranking.length === 0;
  }

  function choose(id) {
    var t = state.task.task;
    if (t.type === "pairwise") {
      state.ranking = [id];
    } else if (state.ranking.indexOf(id) < 0) {
      state.ranking.push(id);
    }
    refresh();
  }

  function answer() {
    var t = state.task.task;
    var body = { rationale: $("rationale").value };
    if (t.type === "likert") {
      body.scores = state.scores;
    } else {
      var ranking = state.ranking.slice();
      t.responses.forEach(function (r) { if (ranking.indexOf(r.id) < 0) ranking.push(r.id); });
      body.ranking = ranking;
    }
    return body;
  }

  function url(action) { return app.dataset.assignmentUrl + state.task.assignment_id + "/" + action + "/"; }

  function next() {
    clearTimeout(retryTimer);
    return api("GET", app.dataset.nextUrl).then(function (res) {
      if (res.status === 204) return show(null);
      if (!res.ok) throw new Error(res.status);
      return res.json().then(show);
    }).catch(function () { say(T.offline); retryTimer = setTimeout(next, 10000); });
  }

  function submit() {
    if (!state.task || !complete() || $("submit").dataset.busy) return;
    $("submit").dataset.busy = "1";
    // ?next=1: the answer and the next task travel in one round trip.
    api("POST", url("submit") + "?next=1", answer()).then(function (res) {
      if (res.status === 201) {
        return res.json().then(function (data) {
          setBalance(data.balance_msat);
          if (data.status === "approved") say(T.sent + sats(data.reward_msat), true);
          else if (data.status === "pending_review") say(T.pending + sats(data.reward_msat), true);
          else say(T.unpaid, true);
          return "next" in data ? show(data.next) : next();
        });
      }
      if (res.status === 410 || res.status === 409) { say(T.expired); return next(); }
      return res.json().then(function (data) {
        say(data.detail || Object.values(data).join(" ") || T.error);
      });
    }).catch(function () { say(T.offline); }).then(function () {
      delete $("submit").dataset.busy;
    });
  }

  function skip() {
    if (!state.task) return;
    api("POST", url("skip")).then(function () { say(""); next(); }).catch(function () { say(T.offline); });
  }

  $("responses").addEventListener("click", function (e) {
    var card = e.target.closest(".card");
    if (!card || !state.task) return;
    var scoreButton = e.target.closest("[data-score]");
    if (state.task.task.type === "likert") {
      if (scoreButton) { state.scores[card.dataset.id] = Number(scoreButton.dataset.score); refresh(); }
      return;
    }
    choose(card.dataset.id);
  });
  $("submit").addEventListener("click", submit);
  $("undo").addEventListener("click", function () { state.ranking.pop(); refresh(); });
  $("skip").addEventListener("click", skip);
  $("retry").addEventListener("click", next);
  $("report").addEventListener("click", function () { $("report-form").reset(); $("report-dialog").showModal(); });
  $("report-dialog").addEventListener("close", function () {
    if ($("report-dialog").returnValue !== "send") return;
    var form = $("report-form");
    var reason = form.querySelector("input[name=reason]:checked");
    if (!reason) return;
    api("POST", url("report"), { reason: reason.value, note: form.elements.note.value })
      .then(function () { say(T.reported); next(); }).catch(function () { say(T.offline); });
  });

  document.addEventListener("keydown", function (e) {
    if (!state.task || e.target.closest("textarea, input, dialog") || e.ctrlKey || e.metaKey || e.altKey) return;
    var t = state.task.task;
    var n = Number(e.key);
    if (n >= 1 && n <= 9) {
      if (t.type === "likert") {
        var open = t.responses.filter(function (r) { return !(r.id in state.scores); })[0];
        if (open && n <= 7) { state.scores[open.id] = n; refresh(); }
      } else if (n <= t.responses.length) {
        choose(t.responses[n - 1].id);
      }
    } else if (e.key === "Enter") { submit(); }
    else if (e.key === "u" || e.key === "Backspace") { state.ranking.pop(); refresh(); }
    else if (e.key === "s") { skip(); }
    else if (e.key === "i") { $("instructions").open = !$("instructions").open; }
    else { return; }
    e.preventDefault();
  });

  show(JSON.parse(document.getElementById("first-task").textContent));
})();
