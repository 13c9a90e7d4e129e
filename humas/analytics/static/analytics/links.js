// Copy buttons: <button data-copy="input-id" data-copied="Copied">.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const input = document.getElementById(button.dataset.copy);
  if (!input) return;
  input.select();
  const done = () => {
    const original = button.textContent;
    button.textContent = button.dataset.copied;
    setTimeout(() => { button.textContent = original; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(input.value).then(done, () => {});
  } else if (document.execCommand("copy")) {
    done();
  }
});
