// Keyboard handling for the review page. No inline script anywhere: the CSP forbids it.
// H/D/U pick the verdict, 1-9 the reason code, Enter locks it, S skips; after the reveal
// C/R/P record what the model did (then, when the gateway changed the answer, what the user
// was served) and N moves on; ? shows the list of keys, Esc hides it.
(function () {
  "use strict";

  function overlay() {
    return document.getElementById("review-keys");
  }

  function toggleKeys(show) {
    const box = overlay();
    if (!box) return;
    const visible = show === undefined ? box.classList.contains("hidden") : show;
    box.classList.toggle("hidden", !visible);
  }

  function state() {
    const node = document.querySelector("#review-pane [data-review-state]");
    return node ? node : null;
  }

  function typing(target) {
    if (!target || !target.tagName) return false;
    const tag = target.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select") return true;
    return tag === "input" && !["radio", "checkbox", "button", "submit"].includes(target.type);
  }

  function press(scope, key) {
    const control = scope.querySelector('[data-key="' + key + '"]');
    if (!control) return false;
    control.click();
    if (control.type === "radio") control.focus();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      toggleKeys(false);
      if (typing(event.target)) event.target.blur();
      return;
    }
    if (typing(event.target)) return;
    if (event.key === "?") {
      toggleKeys();
      event.preventDefault();
      return;
    }
    const scope = state();
    if (!scope) return;
    const key = event.key.toLowerCase();
    const kind = scope.getAttribute("data-review-state");
    let handled = false;
    if (kind === "item") {
      if (key === "enter") {
        const form = document.getElementById("verdict-form");
        if (form) {
          form.requestSubmit();
          handled = true;
        }
      } else if (key === "s") {
        const skip = scope.querySelector("[data-review-skip]");
        if (skip) {
          skip.click();
          handled = true;
        }
      } else if (["h", "d", "u"].includes(key) || /^[1-9]$/.test(key)) {
        handled = press(scope, key);
      }
    } else if (kind === "reveal" && ["c", "r", "p", "n"].includes(key)) {
      handled = press(scope, key);
    }
    if (handled) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    const toggle = event.target.closest("[data-review-keys-toggle]");
    if (toggle) toggleKeys();
  });

  // After HTMX swaps in the next item, start at the top with nothing focused in a text field.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "review-pane") {
      window.scrollTo(0, 0);
      const banner = document.getElementById("htmx-error");
      if (banner) banner.classList.add("hidden");
    }
  });
})();
