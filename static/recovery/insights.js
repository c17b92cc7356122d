// The open-recoveries table refreshes itself: every N seconds it fetches the table alone (?partial=1)
// and swaps it in, unless the manager is in the middle of using a form in it.
(function () {
  "use strict";
  var box = document.querySelector("[data-refresh-url]");
  if (!box || !window.fetch) { return; }
  var seconds = parseInt(box.getAttribute("data-refresh-seconds"), 10) || 30;

  // Busy: a field of the table has the focus, or a row's actions are unfolded.
  function busy() {
    var active = document.activeElement;
    return (active && box.contains(active) && active !== document.body) || box.querySelector("details[open]") !== null;
  }

  function refresh() {
    if (document.hidden || busy()) { return; }
    fetch(box.getAttribute("data-refresh-url"), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null && !busy()) { box.innerHTML = html; } })
      .catch(function () { /* offline for a moment: try again next time */ });
  }

  window.setInterval(refresh, seconds * 1000);
})();
