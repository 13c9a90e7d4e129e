// The production board: drag a card to another column to move it to that stage.
// Each card also has a stage list that works without this script (htmx, or a plain form).
(function () {
  "use strict";

  var dragged = null;

  function board() {
    return document.getElementById("board");
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest("[data-card-id][draggable=true]");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.cardId);
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".board-column.drop-target").forEach(function (el) {
      el.classList.remove("drop-target");
    });
  });

  document.addEventListener("dragover", function (event) {
    var column = dragged && event.target.closest && event.target.closest(".board-column[data-stage]");
    if (!column) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest(".board-column[data-stage]");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop-target");
  });

  document.addEventListener("drop", function (event) {
    var column = dragged && event.target.closest && event.target.closest(".board-column[data-stage]");
    if (!column) return;
    event.preventDefault();
    var card = dragged;
    var stage = column.dataset.stage;
    column.classList.remove("drop-target");
    if (card.closest(".board-column") === column) return;
    // Show the move at once; the answer replaces the whole board with the server's truth.
    column.appendChild(card);
    var root = board();
    htmx.ajax("POST", card.dataset.moveUrl, {
      target: "#board",
      swap: "outerHTML",
      values: { stage: stage },
      headers: { "X-CSRFToken": root ? root.dataset.csrf : "" },
    });
  });
})();
