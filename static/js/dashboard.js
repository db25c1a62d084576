// Dashboard: sortable tables (click a column header) and the round selector. No inline script.
(function () {
  "use strict";

  function cellValue(row, index, numeric) {
    const cell = row.cells[index];
    if (!cell) return numeric ? -Infinity : "";
    const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
    if (!numeric) return raw.toLowerCase();
    const n = parseFloat(raw);
    return Number.isNaN(n) ? -Infinity : n; // "no data" sorts last when descending
  }

  function sortTable(table, index, numeric, th) {
    const body = table.tBodies[0];
    if (!body) return;
    const ascending = th.getAttribute("aria-sort") !== "ascending";
    const rows = Array.from(body.rows);
    rows.sort((a, b) => {
      const x = cellValue(a, index, numeric);
      const y = cellValue(b, index, numeric);
      if (x < y) return ascending ? -1 : 1;
      if (x > y) return ascending ? 1 : -1;
      return 0;
    });
    table.querySelectorAll("th[aria-sort]").forEach((h) => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    rows.forEach((r) => body.appendChild(r));
  }

  function enhance(root) {
    root.querySelectorAll("table.sortable").forEach((table) => {
      if (table.dataset.sortReady) return;
      table.dataset.sortReady = "1";
      table.querySelectorAll("thead th[data-sort]").forEach((th, index) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "sort-button";
        while (th.firstChild) button.appendChild(th.firstChild);
        th.appendChild(button);
        button.addEventListener("click", () =>
          sortTable(table, th.cellIndex, th.dataset.sort === "num", th)
        );
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    enhance(document);
    const select = document.getElementById("round-select");
    if (select) {
      select.addEventListener("change", () => {
        window.location.href = select.dataset.roundUrl.replace("/0/", "/" + select.value + "/");
      });
    }
  });
  document.addEventListener("htmx:afterSettle", (event) => enhance(event.target));
})();
