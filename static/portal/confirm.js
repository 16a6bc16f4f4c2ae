// Forms with data-confirm ask before they submit (the Content-Security-Policy forbids inline onsubmit handlers).
document.addEventListener("submit", (event) => {
  const message = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
