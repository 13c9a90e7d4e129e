// Upload progress for forms marked data-upload-form: htmx reports the bytes sent through
// htmx:xhr:progress and the form's <progress data-upload-progress> follows them.
(function () {
  "use strict";

  function barFor(event) {
    var form = event.target.closest && event.target.closest("[data-upload-form]");
    return form ? form.querySelector("[data-upload-progress]") : null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var bar = barFor(event);
    if (!bar) return;
    bar.value = 0;
    bar.hidden = false;
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var bar = barFor(event);
    if (!bar || !event.detail.lengthComputable || !event.detail.total) return;
    // htmx reports the upload and then the download of the answer; only ever move forward
    // so the bar does not jump back once the files are sent.
    var percent = Math.round((event.detail.loaded / event.detail.total) * 100);
    bar.value = Math.max(bar.value, percent);
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var bar = barFor(event);
    if (!bar) return;
    bar.hidden = true;
    if (event.detail.successful) event.target.closest("[data-upload-form]").reset();
  });
})();
