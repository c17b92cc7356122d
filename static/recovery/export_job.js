// An export's page: while the file is being written, fetch the status alone (?partial=1) every two
// seconds and swap it in; stop once it says ready or failed (the swapped-in status has no data-running).
(function () {
  "use strict";
  var box = document.querySelector("[data-export-status]");
  if (!box || !window.fetch) { return; }
  var timer = window.setInterval(function () {
    if (!box.querySelector("[data-running]")) { window.clearInterval(timer); return; }
    if (document.hidden) { return; }
    fetch(box.getAttribute("data-export-status"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) { box.innerHTML = html; } })
      .catch(function () { /* offline for a moment: try again next time */ });
  }, 2000);
})();
