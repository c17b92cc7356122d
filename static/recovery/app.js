/* Recovery's small page scripts. Plain JS, no build step; the Content-Security-Policy forbids
   inline scripts, so pages hand data over in data-* attributes and json_script blocks. */
(function () {
  "use strict";
  // The words in the reader's language, from Django's JavaScript catalogue (/jsi18n/, loaded first);
  // without it the English words stay.
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (format, values) {
    return format.replace(/%\((\w+)\)s/g, function (whole, name) { return values[name]; });
  };

  // --- Clocks: every [data-due-at] counts down (or up, once late) each second. -------------------
  // Same words as the server's clock_words(): "4:05 min left", "1 h 02 min late".
  function clockWords(secondsLeft) {
    var total = Math.abs(Math.trunc(secondsLeft));
    var minutes = Math.floor(total / 60), seconds = total % 60;
    var hours = Math.floor(minutes / 60);
    minutes = minutes % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var amount = hours ? hours + " h " + pad(minutes) + " min" : minutes + ":" + pad(seconds) + " min";
    return interpolate(secondsLeft >= 0 ? gettext("%(amount)s left") : gettext("%(amount)s late"), { amount: amount }, true);
  }

  function tickClocks() {
    var now = Date.now();
    document.querySelectorAll("[data-due-at]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due-at"));
      if (isNaN(due)) { return; }
      var left = Math.floor((due - now) / 1000);
      el.textContent = clockWords(left);
      el.classList.toggle("late", left < 0);
      var card = el.closest(".recovery, .clock-panel");
      if (card) { card.classList.toggle("late", left < 0); }
    });
  }

  // --- The apology coach: marks phrases from the organization's list as they are typed. ----------
  function normalize(text) {
    return text.replace(/[\u2018\u2019]/g, "'").replace(/[\u201c\u201d]/g, '"').toLowerCase();
  }

  function escapeRegExp(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  // Mirrors incidents.coach.find_flags: whole-word matches, longer phrases win over ones inside them.
  function findFlags(text, phrases) {
    var haystack = normalize(text), found = [];
    phrases.slice().sort(function (a, b) { return b.phrase.length - a.phrase.length; }).forEach(function (p) {
      var pattern = new RegExp("(^|[^\\w])(" + escapeRegExp(normalize(p.phrase)) + ")(?![\\w])", "g");
      var match;
      while ((match = pattern.exec(haystack)) !== null) {
        var start = match.index + match[1].length, end = start + match[2].length;
        var overlaps = found.some(function (f) { return start < f.end && f.start < end; });
        if (!overlaps) { found.push({ start: start, end: end, text: text.slice(start, end), phrase: p }); }
        pattern.lastIndex = end;
      }
    });
    return found.sort(function (a, b) { return a.start - b.start; });
  }

  var KIND_WORDS = {
    conditional: "a conditional apology",
    dismissive: "sounds like an order to move on",
    defensive: "defends the company",
    policy: "policy language",
  };

  function setUpCoach() {
    var source = document.getElementById("coach-phrases");
    var textarea = document.querySelector("textarea[data-coach]");
    var output = document.querySelector("[data-coach-output]");
    if (!source || !textarea || !output) { return; }
    var phrases = JSON.parse(source.textContent);
    var list = output.querySelector("ul");
    function render() {
      var flags = findFlags(textarea.value, phrases);
      list.textContent = "";
      flags.forEach(function (flag) {
        var item = document.createElement("li");
        var mark = document.createElement("mark");
        mark.textContent = "“" + flag.text + "”";
        item.appendChild(mark);
        // The server names the kind in the reader's language (kind_words); the English words are a fallback.
        var kind = flag.phrase.kind_words || KIND_WORDS[flag.phrase.kind] || flag.phrase.kind;
        item.appendChild(document.createTextNode(" " + interpolate(gettext("%(kind)s. Warmer: "), { kind: kind }, true)));
        var suggestion = document.createElement("q");
        suggestion.textContent = flag.phrase.suggestion;
        item.appendChild(suggestion);
        list.appendChild(item);
      });
      output.hidden = flags.length === 0;
      textarea.classList.toggle("flagged", flags.length > 0);
    }
    textarea.addEventListener("input", render);
    render();
  }

  // --- Gesture: says at once when the cost goes over my remaining budget. ------------------------
  function setUpBudget() {
    var cost = document.querySelector("[data-gesture-cost]");
    var budget = document.querySelector("[data-budget]");
    if (!cost || !budget) { return; }
    var remaining = parseFloat(budget.getAttribute("data-remaining"));
    var note = budget.querySelector("[data-over-budget]");
    function render() {
      var value = parseFloat(cost.value);
      note.hidden = !(value > remaining);
    }
    cost.addEventListener("input", render);
    render();
  }

  // --- Gesture: what was given and its cost are asked only once something extra is chosen. --------
  function setUpGestureFields() {
    var kind = document.querySelector("select[name=gesture_kind]");
    if (!kind) { return; }
    var parts = ["gesture_description", "gesture_cost"].map(function (name) {
      var field = kind.form.querySelector("[name=" + name + "]");
      return field && field.closest("div");
    }).filter(Boolean);
    function render() {
      parts.forEach(function (part) { part.hidden = kind.value === ""; });
    }
    kind.addEventListener("change", render);
    render();
  }

  // --- Wrap-up: start the note from the draft. ---------------------------------------------------
  function setUpDraft() {
    var button = document.querySelector("[data-use-draft]");
    var source = document.getElementById("wrap-up-draft");
    if (!button || !source) { return; }
    button.addEventListener("click", function () {
      var form = button.closest("form");
      form.querySelector("[name=kind]").value = "wrap_up";
      var note = form.querySelector("[name=note]");
      note.value = JSON.parse(source.textContent);
      note.focus();
    });
  }

  // --- Log a failure: find the customer as I type. -----------------------------------------------
  function setUpCustomerSearch() {
    var form = document.querySelector("[data-log-form]");
    if (!form) { return; }
    var input = form.querySelector("[data-customer-search]");
    var hidden = form.querySelector("[name=customer]");
    var matches = document.getElementById("customer-matches");
    var chosen = form.querySelector("[data-chosen]");
    var newFields = form.querySelector("[data-new-customer]");
    var banner = document.querySelector("[data-care-banner]");
    var url = matches.getAttribute("data-search-url");
    var timer = null, latest = 0, chosenName = hidden.value ? input.value : null;

    function showBanner(customer) {
      if (!banner) { return; }
      if (!customer || !customer.care_flag) { banner.hidden = true; return; }
      banner.querySelector("[data-care-name]").textContent = customer.name;
      banner.querySelector("[data-care-note]").textContent = customer.care_note;
      var when = banner.querySelector("[data-care-when]");
      if (when && customer.care_flagged_at) {
        // The server's words for the date, as the banner it renders itself: one format in the app.
        when.setAttribute("datetime", customer.care_flagged_at);
        when.textContent = interpolate(gettext("(flagged %(when)s)"), { when: customer.care_flagged_text }, true);
      } else if (when) {
        when.textContent = "";
      }
      banner.hidden = false;
    }

    function choose(customer) {
      hidden.value = customer.id;
      input.value = customer.name;
      chosenName = customer.name;
      chosen.querySelector("[data-chosen-name]").textContent =
        customer.name + (customer.phone ? " · " + customer.phone : "") + (customer.email ? " · " + customer.email : "");
      chosen.hidden = false;
      newFields.hidden = true;
      matches.hidden = true;
      showBanner(customer);
    }

    function clear() {
      hidden.value = "";
      chosenName = null;
      chosen.hidden = true;
      newFields.hidden = false;
      showBanner(null);
    }

    function render(customers) {
      matches.textContent = "";
      customers.forEach(function (customer) {
        var item = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "match" + (customer.care_flag ? " flagged" : "");
        button.textContent = customer.name + (customer.phone ? " · " + customer.phone : "") +
          (customer.email ? " · " + customer.email : "") + (customer.care_flag ? " · " + gettext("take special care") : "");
        button.addEventListener("click", function () { choose(customer); });
        item.appendChild(button);
        matches.appendChild(item);
      });
      matches.hidden = customers.length === 0;
    }

    input.addEventListener("input", function () {
      if (chosenName !== null && input.value !== chosenName) { clear(); }
      clearTimeout(timer);
      var query = input.value.trim();
      if (query.length < 2) { render([]); return; }
      timer = setTimeout(function () {
        var ticket = ++latest;
        fetch(url + "?q=" + encodeURIComponent(query), { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (response) { return response.ok ? response.json() : { customers: [] }; })
          .then(function (data) { if (ticket === latest && hidden.value === "") { render(data.customers); } })
          .catch(function () { render([]); });
      }, 200);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { matches.hidden = true; }
    });
    form.querySelector("[data-clear-customer]").addEventListener("click", function () {
      clear();
      input.value = "";
      input.focus();
    });
    // A name typed while the page was still loading (a slow phone), or kept by the browser on going
    // back, is searched as soon as the script runs: no keystroke is needed to see who is on file.
    if (hidden.value === "" && input.value.trim().length >= 2) {
      input.dispatchEvent(new Event("input"));
    }
  }

  // --- A second click on a submit button while the first is on its way does nothing. -----------
  // (The server is what guarantees one incident per form; this only spares a wasted request.)
  function setUpSubmitOnce() {
    document.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function () {
        var button = form.querySelector("[data-once]");
        if (button) { setTimeout(function () { button.disabled = true; }, 0); }
      });
    });
    window.addEventListener("pageshow", function () {
      document.querySelectorAll("[data-once]").forEach(function (button) { button.disabled = false; });
    });
  }

  // --- The incident page answering a POST: its own address in the bar, the step it points to open. --
  // A reload then reads the page instead of sending the form again (the server kept what was typed).
  function setUpStepFocus() {
    var steps = document.querySelector("[data-page-url]");
    if (steps && window.history && history.replaceState) {
      history.replaceState(null, "", steps.getAttribute("data-page-url"));
    }
    var target = document.querySelector("[data-focus-step]");
    if (!target && location.hash.length > 1) {
      target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    }
    if (!target || target.tagName !== "DETAILS") { return; }
    target.open = true;
    var summary = target.querySelector("summary");
    if (!summary) { return; }
    var focus = function () {
      summary.focus({ preventScroll: true });
      target.scrollIntoView({ block: "start" });
    };
    focus();
    // The browser goes to the address's #step once the page has loaded, and that moves the focus to the
    // page (a fold is not focusable): put it back on the step's heading then.
    window.addEventListener("load", function () { setTimeout(focus, 0); });
  }

  // --- The header on a phone: the less used links fold under Menu. --------------------------------
  function setUpMenu() {
    var button = document.querySelector("[data-menu-toggle]");
    if (!button) { return; }
    var menu = document.getElementById(button.getAttribute("aria-controls"));
    document.documentElement.classList.add("has-menu");
    button.hidden = false;
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("open", open);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpStepFocus();
    setUpMenu();
    setUpGestureFields();
    tickClocks();
    setInterval(tickClocks, 1000);
    setUpCoach();
    setUpBudget();
    setUpDraft();
    setUpCustomerSearch();
    setUpSubmitOnce();
  });
})();
