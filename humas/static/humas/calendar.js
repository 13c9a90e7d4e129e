// The calendar: pillar colours on entries, drag a scheduled post to another day, and the
// channel filter applied as soon as a channel is chosen.
(function () {
  "use strict";

  var COLOUR = /^#[0-9a-fA-F]{6}$/;
  var dragged = null;

  // Colours come from data attributes: the CSP refuses style attributes in the HTML, not
  // styles set through the DOM.
  function paint(root) {
    root.querySelectorAll(".entry[data-colour]").forEach(function (entry) {
      if (COLOUR.test(entry.dataset.colour)) entry.style.borderLeftColor = entry.dataset.colour;
    });
  }

  function grid() {
    return document.getElementById("calendar-grid");
  }

  document.addEventListener("DOMContentLoaded", function () {
    paint(document);
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      var button = select.form.querySelector("[data-autosubmit-button]");
      if (button) button.classList.add("js-hidden");
      select.addEventListener("change", function () {
        select.form.requestSubmit();
      });
    });
  });

  document.addEventListener("htmx:afterSwap", function () {
    var root = grid();
    if (root) paint(root);
  });

  document.addEventListener("dragstart", function (event) {
    var entry = event.target.closest && event.target.closest(".entry[data-post-id][draggable=true]");
    if (!entry) return;
    dragged = entry;
    entry.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", entry.dataset.postId);
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll("td.day.drop-target").forEach(function (el) {
      el.classList.remove("drop-target");
    });
  });

  document.addEventListener("dragover", function (event) {
    var day = dragged && event.target.closest && event.target.closest("td.day[data-date]");
    if (!day) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    day.classList.add("drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var day = event.target.closest && event.target.closest("td.day[data-date]");
    if (day && !day.contains(event.relatedTarget)) day.classList.remove("drop-target");
  });

  document.addEventListener("drop", function (event) {
    var day = dragged && event.target.closest && event.target.closest("td.day[data-date]");
    var root = grid();
    if (!day || !root || !root.dataset.moveUrl) return;
    event.preventDefault();
    var entry = dragged;
    day.classList.remove("drop-target");
    if (entry.closest("td.day") === day) return;
    day.appendChild(entry);
    var values = {
      post: entry.dataset.postId,
      to: day.dataset.date,
      view: root.dataset.view,
      date: root.dataset.date,
    };
    if (root.dataset.channel) values.channel = root.dataset.channel;
    htmx.ajax("POST", root.dataset.moveUrl, {
      target: "#calendar-grid",
      swap: "outerHTML",
      values: values,
      headers: { "X-CSRFToken": root.dataset.csrf },
    });
  });
})();
