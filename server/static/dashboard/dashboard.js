// The dashboard refreshes itself without losing the view: the view lives in the URL, and
// every `data-refresh` seconds the same URL is fetched and only <main> is replaced, so the
// pickers, the scroll position and any open tooltip stay where they are.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var form = document.querySelector("form.pickers");
  if (form) {
    var period = form.querySelector("select[name=period]");
    var province = form.querySelector("select[name=province]");
    var district = form.querySelector("select[name=district]");
    var sync = function () { form.classList.toggle("is-custom", period.value === "custom"); };
    period.addEventListener("change", sync);
    sync();
    // a new province: its districts are not those of the old one
    if (province && district) {
      province.addEventListener("change", function () { district.value = ""; });
    }
    // only the fields of the chosen period kind go into the URL
    form.addEventListener("submit", function () {
      var custom = period.value === "custom";
      form.querySelectorAll("label.custom input").forEach(function (i) { i.disabled = !custom; });
      form.querySelectorAll("label.anchor input").forEach(function (i) { i.disabled = custom; });
      form.querySelectorAll("select").forEach(function (s) { if (!s.value) { s.disabled = true; } });
    });
  }
  var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (!seconds) { return; }
  var refresh = function () {
    if (document.hidden) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Error("signed out or failed"); }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        var main = document.querySelector("main");
        if (fresh && main) {
          main.innerHTML = fresh.innerHTML;
          main.classList.remove("stale");
          window.dispatchEvent(new CustomEvent("dashboard:refreshed"));
        }
      })
      .catch(function () { var main = document.querySelector("main"); if (main) { main.classList.add("stale"); } });
  };
  window.setInterval(refresh, seconds * 1000);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { refresh(); } });
}());
