// The composer: show a variant block per ticked channel, keep the media order, and copy the
// main text into every variant. The page works without it (all blocks shown, library order).
(function () {
  "use strict";

  function recheck(element) {
    // htmx listens for input/change on the form; a scripted change must say so itself.
    element.dispatchEvent(new Event("input", { bubbles: true }));
    element.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function setup(form) {
    var main = form.querySelector("[data-compose-main]");
    var variants = form.querySelectorAll("[data-compose-variant]");
    var order = form.querySelector("input[name='media_order']");

    function showVariants() {
      form.querySelectorAll("[data-compose-channel]").forEach(function (box) {
        var block = form.querySelector("[data-variant-for='" + box.value + "']");
        if (block) {
          block.hidden = !box.checked;
        }
      });
    }

    function showMainTextAsPlaceholder() {
      if (!main) {
        return;
      }
      variants.forEach(function (area) {
        area.placeholder = main.value;
      });
    }

    form.querySelectorAll("[data-compose-channel]").forEach(function (box) {
      box.addEventListener("change", showVariants);
    });

    if (order) {
      form.querySelectorAll("[data-compose-media]").forEach(function (box) {
        box.addEventListener("change", function () {
          var ids = order.value.split(",").filter(function (id) {
            return id && id !== box.value;
          });
          if (box.checked) {
            ids.push(box.value);
          }
          order.value = ids.join(",");
        });
      });
    }

    if (main) {
      main.addEventListener("input", showMainTextAsPlaceholder);
    }

    var copy = form.querySelector("[data-compose-copy]");
    if (copy && main) {
      copy.addEventListener("click", function () {
        variants.forEach(function (area) {
          area.value = main.value;
        });
        if (variants.length) {
          recheck(variants[0]);
        }
      });
    }

    showVariants();
    showMainTextAsPlaceholder();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-compose]").forEach(setup);
  });
})();
