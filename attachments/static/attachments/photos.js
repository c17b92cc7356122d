// Photos or files: a file over the size limit is named at once and left out of the form, so a phone does
// not send 20 MB only to hear it was too large. The server checks every file anyway (attachments.services).
(function () {
  "use strict";

  function setUp(input) {
    var limit = Number(input.dataset.maxBytes);
    var note = document.createElement("p");
    note.className = "error";
    note.setAttribute("role", "alert");
    note.hidden = true;
    input.closest(".attach-inputs").after(note);
    input.addEventListener("change", function () {
      var kept = new DataTransfer();
      var refused = [];
      Array.prototype.forEach.call(input.files, function (file) {
        if (file.size > limit) { refused.push("“" + file.name + "”"); } else { kept.items.add(file); }
      });
      note.hidden = refused.length === 0;
      note.textContent = input.dataset.tooLarge.replace("{names}", refused.join(", "));
      if (refused.length) { input.files = kept.files; }
    });
  }

  function start() {
    document.querySelectorAll("input[type=file][data-max-bytes][data-too-large]").forEach(setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
