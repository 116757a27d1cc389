(function () {
  "use strict";
  // Sort a table on header click. Numeric columns carry data-type="num" on the header and
  // the raw number in each cell's data-sort (or, in a large table, as the cell's first text);
  // empty cells sort last either way.
  function value(cell, numeric) {
    var raw = cell.getAttribute("data-sort");
    if (raw === null) {
      var first = cell.firstChild;
      raw = numeric && first && first.nodeType === 3 ? first.nodeValue : cell.textContent.trim();
    }
    if (!numeric) { return raw.toLowerCase(); }
    var num = parseFloat(raw);
    return isNaN(num) ? null : num;
  }
  function sortBy(table, th, index) {
    var tbody = table.tBodies[0];
    var numeric = th.getAttribute("data-type") === "num";
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {
      var x = value(a.cells[index], numeric), y = value(b.cells[index], numeric);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }
      if (y === null) { return -1; }
      var r = x < y ? -1 : x > y ? 1 : 0;
      return asc ? r : -r;
    });
    Array.prototype.forEach.call(th.parentNode.cells, function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    rows.forEach(function (row) { tbody.appendChild(row); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var head = table.tHead && table.tHead.rows[0];
    if (!head) { return; }
    Array.prototype.forEach.call(head.cells, function (th, index) {
      th.classList.add("sortable");
      th.setAttribute("tabindex", "0");
      th.setAttribute("title", "Sort by this column");
      th.addEventListener("click", function (e) {
        if (e.target.closest && e.target.closest("a")) { return; } // a header's link (a task's audit) is not a sort
        sortBy(table, th, index);
      });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, th, index); }
      });
    });
  });
  // Filter a large table: a search box (data-filter="q") matches the model column's text and key;
  // each select (data-filter="NAME") keeps the rows whose data-NAME equals the chosen value.
  document.querySelectorAll(".filters[data-table]").forEach(function (bar) {
    var table = document.getElementById(bar.getAttribute("data-table"));
    if (!table || !table.tBodies[0]) { return; }
    var controls = Array.prototype.slice.call(bar.querySelectorAll("[data-filter]"));
    var count = bar.querySelector(".filter-count");
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var text = rows.map(function (row) {
      var cell = row.querySelector("td.model");
      return ((cell ? cell.textContent : "") + " " + (row.getAttribute("data-model") || "")).toLowerCase();
    });
    function apply() {
      var query = "", wanted = [];
      controls.forEach(function (c) {
        var v = c.value.trim();
        if (!v) { return; }
        if (c.getAttribute("data-filter") === "q") { query = v.toLowerCase(); } else { wanted.push(["data-" + c.getAttribute("data-filter"), v]); }
      });
      var shown = 0;
      rows.forEach(function (row, i) {
        var ok = (!query || text[i].indexOf(query) >= 0) && wanted.every(function (w) { return row.getAttribute(w[0]) === w[1]; });
        row.hidden = !ok;
        if (ok) { shown += 1; }
      });
      if (count) { count.textContent = shown === rows.length ? rows.length + " models" : "showing " + shown + " of " + rows.length + " models"; }
    }
    controls.forEach(function (c) { c.addEventListener("input", apply); c.addEventListener("change", apply); });
    apply();
  });
})();
