/* hashbench results site: sort any table column, filter by dataset / code length / task /
 * method. Vanilla JavaScript, no library, nothing fetched.
 *
 * Query string (for links and tests):
 *   ?sort=TABLE_ID:COLUMN[:asc|desc]   sort a table on load (COLUMN: index of the body cell)
 *   ?filter=KEY:V1|V2;KEY2:V3          start with only these values (KEY: dataset, bits,
 *                                      task, method)
 *   ?bench=1                           time sorts and filters; results on <body data-bench-*>
 * On load <body> gets data-ready="1", data-figures="N" (figures drawn with a size) and the
 * milliseconds of the script (data-init-ms) and since navigation start (data-ready-ms). */
(function () {
  "use strict";
  var KEYS = ["dataset", "bits", "task", "method"];
  var selected = {};
  var items = [];
  var collator = new Intl.Collator(undefined, { numeric: true });  // one, not one per compare

  function collect() {
    var found = document.querySelectorAll(
      KEYS.map(function (k) { return "[data-" + k + "]"; }).join(","));
    items = Array.prototype.map.call(found, function (el) {
      var pairs = [];
      KEYS.forEach(function (k) {
        var v = el.getAttribute("data-" + k);
        if (v !== null) { pairs.push([k, v]); }
      });
      return { el: el, pairs: pairs };
    });
  }

  function readChecks() {
    KEYS.forEach(function (k) { selected[k] = new Set(); });
    document.querySelectorAll("input[data-filter-key]").forEach(function (box) {
      if (box.checked) { selected[box.getAttribute("data-filter-key")].add(box.value); }
    });
  }

  function applyFilters() {
    readChecks();
    items.forEach(function (item) {
      var hide = false;
      for (var i = 0; i < item.pairs.length; i++) {
        if (!selected[item.pairs[i][0]].has(item.pairs[i][1])) { hide = true; break; }
      }
      if (item.el.hidden !== hide) { item.el.hidden = hide; }
    });
    document.querySelectorAll("th.group").forEach(function (th) {
      var table = th.closest("table");
      var cols = table.querySelectorAll(
        'th[data-col][data-dataset="' + CSS.escape(th.getAttribute("data-dataset")) + '"]');
      var shown = Array.prototype.filter.call(cols, function (c) { return !c.hidden; }).length;
      th.colSpan = Math.max(shown, 1);
      th.hidden = shown === 0;
    });
    document.querySelectorAll("table[data-count]").forEach(function (table) {
      var rows = table.tBodies[0].rows;
      var shown = 0;
      for (var i = 0; i < rows.length; i++) {
        if (!rows[i].hidden && !rows[i].classList.contains("empty-row")) { shown++; }
      }
      var out = document.getElementById(table.getAttribute("data-count"));
      if (out) { out.textContent = shown + " of " + (rows.length - table.querySelectorAll("tr.empty-row").length) + " shown"; }
    });
  }

  function cellKey(row, col) {
    var cell = row.cells[col];
    if (!cell) { return null; }
    var v = cell.getAttribute("data-v");
    if (v !== null) { return v === "" ? null : parseFloat(v); }
    return cell.textContent.trim();
  }

  function sortTable(table, col, dir) {
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows).filter(function (r) {
      return !r.classList.contains("empty-row");
    });
    var sign = dir === "asc" ? 1 : -1;
    var keyed = rows.map(function (r, i) { return [cellKey(r, col), i, r]; });
    keyed.sort(function (a, b) {
      if (a[0] === null || b[0] === null) {
        if (a[0] === null && b[0] === null) { return a[1] - b[1]; }
        return a[0] === null ? 1 : -1;  // missing values last, either direction
      }
      var c = typeof a[0] === "number" && typeof b[0] === "number"
        ? a[0] - b[0] : collator.compare(String(a[0]), String(b[0]));
      return c !== 0 ? sign * c : a[1] - b[1];
    });
    var frag = document.createDocumentFragment();
    keyed.forEach(function (k) { frag.appendChild(k[2]); });
    tbody.appendChild(frag);
    table.querySelectorAll("th[data-col]").forEach(function (th) {
      var mine = parseInt(th.getAttribute("data-col"), 10) === col;
      if (mine) { th.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending"); }
      else { th.removeAttribute("aria-sort"); }
    });
  }

  function onHeaderClick(event) {
    var th = event.target.closest("th[data-col]");
    if (!th) { return; }
    var table = th.closest("table");
    var col = parseInt(th.getAttribute("data-col"), 10);
    var now = th.getAttribute("aria-sort");
    var numeric = th.getAttribute("data-type") === "num";
    var dir = now === "descending" ? "asc" : now === "ascending" ? "desc" : numeric ? "desc" : "asc";
    sortTable(table, col, dir);
  }

  function setAll(key, on) {
    document.querySelectorAll('input[data-filter-key="' + key + '"]').forEach(function (box) {
      box.checked = on;
    });
    applyFilters();
  }

  function openFromHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (id.indexOf("run-") !== 0) { return; }
    var target = document.getElementById(id);
    if (target && target.tagName === "DETAILS") {
      target.hidden = false;
      target.open = true;
      target.scrollIntoView();
    }
  }

  function fromQuery(params) {
    var filter = params.get("filter");
    if (filter) {
      filter.split(";").forEach(function (part) {
        var at = part.indexOf(":");
        if (at < 0) { return; }
        var key = part.slice(0, at);
        var keep = new Set(part.slice(at + 1).split("|"));
        document.querySelectorAll('input[data-filter-key="' + key + '"]').forEach(function (box) {
          box.checked = keep.has(box.value);
        });
      });
    }
    applyFilters();
    var sort = params.get("sort");
    if (sort) {
      var parts = sort.split(":");
      var table = document.getElementById(parts[0]);
      if (table) { sortTable(table, parseInt(parts[1], 10), parts[2] === "asc" ? "asc" : "desc"); }
    }
  }

  function bench() {
    var tables = Array.prototype.slice.call(document.querySelectorAll("table[data-count]"));
    var biggest = tables.sort(function (a, b) { return b.rows.length - a.rows.length; })[0];
    var times = [];
    if (biggest) {
      var cols = biggest.querySelectorAll("th[data-col]");
      for (var i = 0; i < cols.length; i++) {
        var t0 = performance.now();
        sortTable(biggest, parseInt(cols[i].getAttribute("data-col"), 10), i % 2 ? "asc" : "desc");
        times.push(performance.now() - t0);
      }
    }
    var f0 = performance.now();
    var first = document.querySelector("input[data-filter-key]");
    if (first) { first.checked = !first.checked; applyFilters(); first.checked = !first.checked; }
    applyFilters();
    var filterMs = (performance.now() - f0) / 2;
    var sortMax = times.length ? Math.max.apply(null, times) : 0;
    document.body.setAttribute("data-bench-rows", biggest ? String(biggest.tBodies[0].rows.length) : "0");
    document.body.setAttribute("data-bench-sort-ms", sortMax.toFixed(1));
    document.body.setAttribute("data-bench-filter-ms", filterMs.toFixed(1));
    console.log("hashbench bench: sort max " + sortMax.toFixed(1) + " ms over " + times.length +
      " columns; filter " + filterMs.toFixed(1) + " ms");
  }

  function init() {
    var t0 = performance.now();
    collect();
    document.addEventListener("click", onHeaderClick);
    document.querySelectorAll("input[data-filter-key]").forEach(function (box) {
      box.addEventListener("change", applyFilters);
    });
    document.querySelectorAll("button[data-all]").forEach(function (button) {
      button.addEventListener("click", function () {
        setAll(button.getAttribute("data-all"), button.getAttribute("data-on") === "1");
      });
    });
    var params = new URLSearchParams(location.search);
    fromQuery(params);
    window.addEventListener("hashchange", openFromHash);
    openFromHash();
    var drawn = Array.prototype.filter.call(document.querySelectorAll("figure svg"), function (svg) {
      var box = svg.getBoundingClientRect();
      return box.width > 0 && box.height > 0 && svg.querySelector("path, use") !== null;
    }).length;
    document.body.setAttribute("data-figures", String(drawn));
    document.body.setAttribute("data-init-ms", (performance.now() - t0).toFixed(1));
    document.body.setAttribute("data-ready-ms", performance.now().toFixed(0));  // since navigation
    if (params.get("bench")) { bench(); }
    document.body.setAttribute("data-ready", "1");
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); }
  else { init(); }
})();
