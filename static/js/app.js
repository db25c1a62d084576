// Small behaviours shared by every page. No inline script anywhere: the CSP forbids it.
document.addEventListener("htmx:responseError", (event) => {
  const target = document.getElementById("htmx-error");
  if (target) {
    target.textContent = "The server answered with an error (" + event.detail.xhr.status + "). Nothing was lost; try again.";
    target.classList.remove("hidden");
  }
});
document.addEventListener("htmx:sendError", () => {
  const target = document.getElementById("htmx-error");
  if (target) {
    target.textContent = "The connection was lost. Your last saved work is kept; try again when you are back online.";
    target.classList.remove("hidden");
  }
});
