// 链配 console: light progressive enhancement; every page works without it.
document.addEventListener("DOMContentLoaded", () => {
  // Phone menu.
  document.querySelectorAll("[data-toggle]").forEach((btn) => {
    btn.addEventListener("click", () => {
      document.getElementById(btn.dataset.toggle)?.classList.toggle("open");
    });
  });
  // Ask before destructive or heavy actions: <form data-confirm="...">.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  // Disable a submit button while its form is being sent, so it is not sent twice.
  document.querySelectorAll("form").forEach((form) => {
    form.addEventListener("submit", (event) => {
      setTimeout(() => {
        if (event.defaultPrevented) return;
        form.querySelectorAll("button[type=submit]").forEach((b) => (b.disabled = true));
      }, 0);
    });
  });
  // Put the cursor on the first field with an error.
  const bad = document.querySelector(".has-error input, .has-error select, .has-error textarea");
  if (bad) bad.focus();
});
