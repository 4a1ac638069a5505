// «Показать как получатель» on the campaign's preview tab (mailer/admin/campaign_preview.py):
// reloads the page with ?preview_as=<e-mail> and opens the preview tab again.
(function () {
  var input = document.getElementById("preview-as");
  var go = document.getElementById("preview-as-go");
  function show(event) {
    if (event) { event.preventDefault(); }
    var url = new URL(window.location.href);
    url.searchParams.set("preview_as", input.value.trim());
    url.hash = "";
    window.location.assign(url.toString());
  }
  go.addEventListener("click", show);
  // Enter would submit the campaign form around the box: show the preview instead.
  input.addEventListener("keydown", function (event) { if (event.key === "Enter") { show(event); } });
  if (new URLSearchParams(window.location.search).has("preview_as")) {
    window.addEventListener("load", function () {
      var tabs = document.querySelectorAll("nav a");
      for (var i = 0; i < tabs.length; i++) {
        if (tabs[i].textContent.trim() === "Предпросмотр") { tabs[i].click(); break; }
      }
    });
  }
})();
