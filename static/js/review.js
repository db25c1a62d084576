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

  // The verdict being chosen (H/D/U, reason, clause, note) survives a refresh: it is kept in this
  // tab's sessionStorage under the item's id until the verdict is locked. It holds only what the
  // reviewer typed, never anything of the model's answer.
  const DRAFT_FIELDS = [
    "decision",
    "reason_code",
    "reason_code_search",
    "suggested_category",
    "policy_clause",
    "note",
  ];

  function draftKey(form) {
    return "review-draft:" + form.getAttribute("data-item-id");
  }

  function saveDraft(form) {
    const draft = {};
    DRAFT_FIELDS.forEach(function (name) {
      const checked = form.querySelector('input[type=radio][name="' + name + '"]:checked');
      const field = checked || form.querySelector('[name="' + name + '"]:not([type=radio])');
      if (field && field.value) draft[name] = field.value;
    });
    try {
      window.sessionStorage.setItem(draftKey(form), JSON.stringify(draft));
    } catch (error) {
      // Storage full or disabled: the selection is simply not kept.
    }
  }

  function restoreDraft() {
    const form = document.getElementById("verdict-form");
    if (!form) return;
    let draft = null;
    try {
      draft = JSON.parse(window.sessionStorage.getItem(draftKey(form)) || "null");
    } catch (error) {
      draft = null;
    }
    if (!draft) return;
    DRAFT_FIELDS.forEach(function (name) {
      const value = draft[name];
      if (!value) return;
      const radios = form.querySelectorAll('input[type=radio][name="' + name + '"]');
      if (radios.length) {
        // The server's own choice (a form sent back with an error) wins over the draft.
        if (form.querySelector('input[type=radio][name="' + name + '"]:checked')) return;
        radios.forEach(function (radio) {
          if (radio.value === value) radio.checked = true;
        });
      } else {
        const field = form.querySelector('[name="' + name + '"]');
        if (field && !field.value) field.value = value;
      }
    });
  }

  function clearDrafts() {
    const pane = document.querySelector("#review-pane [data-review-state=reveal]");
    if (!pane) return;
    try {
      window.sessionStorage.removeItem("review-draft:" + pane.getAttribute("data-item-id"));
    } catch (error) {
      // Nothing stored.
    }
  }

  document.addEventListener("change", function (event) {
    const form = event.target.closest && event.target.closest("#verdict-form");
    if (form) saveDraft(form);
  });
  document.addEventListener("input", function (event) {
    const form = event.target.closest && event.target.closest("#verdict-form");
    if (form) saveDraft(form);
  });
  document.addEventListener("DOMContentLoaded", function () {
    restoreDraft();
    clearDrafts();
  });

  // After HTMX swaps in the next item, start at the top with nothing focused in a text field.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "review-pane") {
      restoreDraft();
      clearDrafts();
      window.scrollTo(0, 0);
      const banner = document.getElementById("htmx-error");
      if (banner) banner.classList.add("hidden");
    }
  });
})();
