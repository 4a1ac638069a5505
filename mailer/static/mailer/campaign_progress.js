// The live progress bar of a campaign page (admin/mailer/campaign/progress.html): polls
// /admin/mailer/poll/ every few seconds while the campaign is in the queue.
(function () {
  var box = document.getElementById("campaign-progress");
  // Right after an action (the page reloads after each) the sender may still be finishing a
  // message: poll often for a while whatever the state, so the counts are not left stale.
  var busyUntil = Date.now() + 30000;
  function text(id, value) { document.getElementById(id).textContent = value; }
  function render(state) {
    var c = state.campaign;
    document.getElementById("campaign-progress-bar").style.width = c.percent + "%";
    box.dataset.percent = c.percent;
    text("campaign-progress-percent", c.percent + "%");
    text("campaign-progress-status", c.status_text);
    text("campaign-progress-counts", "Отправлено: " + c.sent + " из " + c.total + " · ошибки: " + c.failed +
         " · отписаны: " + c.unsubscribed +
         (c.unknown ? " · неизвестно, дошло ли: " + c.unknown : "") + " · ожидают: " + c.pending +
         " · лимит в час: " + state.hourly.used + " / " + state.hourly.limit);
    text("campaign-progress-reason", c.reason_text);
    return c.queue_status === "pending" || c.queue_status === "processing";
  }
  function tick() {
    fetch(box.dataset.pollUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (state) { setTimeout(tick, render(state) || Date.now() < busyUntil ? 3000 : 15000); })
      .catch(function () { setTimeout(tick, 10000); });
  }
  tick();
})();
