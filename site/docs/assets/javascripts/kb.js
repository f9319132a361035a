/* Sortable and filterable tables, and the graph page, with no server.
 *
 * Tablesort and Cytoscape.js are vendored from npm (site/package.json) and copied into the
 * built site by the MkDocs hook. Material calls document$ subscribers on every page load.
 */
(function () {
  "use strict";

  var FILTER_MIN_ROWS = 10;
  var NUMBER = /^[-+]?\d+(\.\d+)?%?$/;

  function cellValue(cell) {
    var marked = cell.querySelector("[data-sort]");
    return marked ? marked.getAttribute("data-sort") : cell.textContent.trim();
  }

  /* Give tablesort what it cannot guess: values drawn as SVG, and numeric columns with dashes. */
  function prepareTable(table) {
    var head = table.tHead && table.tHead.rows[0];
    var body = table.tBodies[0];
    if (!head || !body) return false;
    for (var col = 0; col < head.cells.length; col++) {
      var numeric = true;
      var seen = 0;
      for (var r = 0; r < body.rows.length; r++) {
        var cell = body.rows[r].cells[col];
        if (!cell) continue;
        var value = cellValue(cell);
        if (cell.querySelector("[data-sort]")) cell.setAttribute("data-sort", value);
        if (value === "–" || value === "") continue;
        seen++;
        if (!NUMBER.test(value)) numeric = false;
      }
      if (numeric && seen) {
        head.cells[col].setAttribute("data-sort-method", "number");
        for (var k = 0; k < body.rows.length; k++) {
          var c = body.rows[k].cells[col];
          if (c && (cellValue(c) === "–" || cellValue(c) === "")) c.setAttribute("data-sort", "-1");
        }
      }
    }
    return true;
  }

  /* A filter box above a long table: rows whose text does not contain every word are hidden. */
  function addFilter(table) {
    var body = table.tBodies[0];
    if (body.rows.length < FILTER_MIN_ROWS) return;
    var anchor = table.closest(".md-typeset__scrollwrap") || table;
    if (anchor.previousElementSibling && anchor.previousElementSibling.classList.contains("kb-filter")) return;
    var input = document.createElement("input");
    input.type = "search";
    input.className = "kb-filter";
    input.placeholder = "Filter these " + body.rows.length + " rows…";
    input.setAttribute("aria-label", "Filter the table below");
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      for (var r = 0; r < body.rows.length; r++) {
        var text = body.rows[r].textContent.toLowerCase();
        var keep = words.every(function (w) { return text.indexOf(w) !== -1; });
        body.rows[r].hidden = !keep;
      }
    });
    anchor.parentNode.insertBefore(input, anchor);
  }

  function setUpTables() {
    var tables = document.querySelectorAll("article table:not([class]), article table.kb-sortable");
    for (var i = 0; i < tables.length; i++) {
      var table = tables[i];
      if (table.getAttribute("data-kb-ready")) continue;
      if (!prepareTable(table)) continue;
      if (typeof Tablesort !== "undefined") new Tablesort(table);
      addFilter(table);
      table.setAttribute("data-kb-ready", "1");
    }
  }

  function colour(name, fallback) {
    var value = getComputedStyle(document.body).getPropertyValue(name).trim();
    return value || fallback;
  }

  function graphStyle() {
    var text = colour("--md-default-fg-color", "#333");
    var faint = colour("--md-default-fg-color--lighter", "#999");
    return [
      { selector: "node", style: {
        "label": "data(label)", "font-size": 9, "color": text, "width": 10, "height": 10,
        "background-color": colour("--md-accent-fg-color", "#ff6e42"), "text-valign": "bottom" } },
      { selector: "node[kind = 'condition']", style: {
        "width": 34, "height": 34, "font-size": 14, "font-weight": "bold",
        "background-color": colour("--md-primary-fg-color", "#009485") } },
      { selector: "node[kind = 'class']", style: {
        "shape": "round-rectangle", "width": 16, "height": 16, "background-color": faint } },
      { selector: "edge", style: { "width": 1, "line-color": faint, "curve-style": "haystack", "opacity": 0.6 } },
      { selector: "edge[relation = 'treats']", style: {
        "width": "mapData(studies, 1, 20, 1, 6)", "line-color": colour("--md-primary-fg-color", "#009485") } },
      { selector: "edge[relation = 'part_of']", style: { "line-style": "dashed" } },
    ];
  }

  function setUpGraph() {
    var box = document.getElementById("kb-graph");
    var data = document.getElementById("kb-graph-data");
    if (!box || !data || typeof cytoscape === "undefined" || box.getAttribute("data-kb-ready")) return;
    var cy = cytoscape({
      container: box,
      elements: JSON.parse(data.textContent),
      style: graphStyle(),
      layout: { name: "cose", animate: false, randomize: false, nodeRepulsion: 8000, idealEdgeLength: 60 },
      wheelSensitivity: 0.3,
    });
    cy.on("tap", "node", function (event) {
      var url = event.target.data("url");
      if (url) window.location.href = url;
    });
    /* Re-colour when the reader switches between the light and dark palettes. */
    new MutationObserver(function () { cy.style(graphStyle()); })
      .observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
    box.setAttribute("data-kb-ready", "1");
    window.kbGraph = cy;
  }

  function setUp() {
    setUpTables();
    setUpGraph();
  }

  if (typeof document$ !== "undefined") {
    document$.subscribe(setUp);
  } else {
    document.addEventListener("DOMContentLoaded", setUp);
  }
})();
