// Small behaviours shared by every page. No inline script anywhere: the CSP forbids it.
document.addEventListener("htmx:responseError", (event) => {
  const target = document.getElementById("htmx-error");
  if (target) {
    const xhr = event.detail.xhr;
    // A refusal that explains itself (e.g. the background workers are down) carries X-Banner.
    target.textContent = xhr.getResponseHeader("X-Banner") && xhr.responseText
      ? xhr.responseText
      : "The server answered with an error (" + xhr.status + "). Nothing was lost; try again.";
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
// A page restored from the back/forward cache shows the state of when it was left (a blind form
// for an item already judged, yesterday's counts): reload it so the server says what holds now.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) window.location.reload();
});
