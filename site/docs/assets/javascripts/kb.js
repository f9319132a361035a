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
        body.rows[r].setAttribute("data-kb-text-hidden", keep ? "0" : "1");
      }
      applyFilters(table);
    });
    anchor.parentNode.insertBefore(input, anchor);
  }

  /* CSV of a table's visible rows, each text cell guarded as the exports are: a cell a
   * spreadsheet would run as a formula (=, +, -, @, tab, CR) gets a leading '. */
  function csvCell(text) {
    var value = text.replace(/\s+/g, " ").trim();
    if (/^[=+\-@\t\r]/.test(value) && !/^-?\d+(\.\d+)?%?$/.test(value)) value = "'" + value;
    return /[",\n]/.test(value) ? '"' + value.replace(/"/g, '""') + '"' : value;
  }

  window.kbCsvCell = csvCell; /* for the browser tests */

  function tableCsv(table) {
    var lines = [];
    var head = table.tHead.rows[0];
    lines.push(Array.prototype.map.call(head.cells, function (c) { return csvCell(c.textContent); }).join(","));
    var rows = table.tBodies[0].rows;
    for (var r = 0; r < rows.length; r++) {
      if (rows[r].hidden) continue;
      lines.push(Array.prototype.map.call(rows[r].cells, function (c) {
        var svg = c.querySelector("svg[aria-label]");
        return csvCell(svg ? svg.getAttribute("aria-label") : c.textContent);
      }).join(","));
    }
    return lines.join("\r\n") + "\r\n";
  }

  function addDownload(table, bar) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "kb-csv md-button";
    button.textContent = "Download these rows (CSV)";
    button.addEventListener("click", function () {
      var blob = new Blob([tableCsv(table)], { type: "text/csv;charset=utf-8" });
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = (document.title.split(" - ")[0] || "table").replace(/[^A-Za-z0-9]+/g, "-") + ".csv";
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
    });
    bar.appendChild(button);
  }

  /* Filters on the columns a findings table marks (data-kb-filter on its rows: design, age
   * group, route as choices; year as a range). Rows must pass every filter and the text box. */
  function applyFilters(table) {
    var body = table.tBodies[0];
    var state = table.kbFilters || {};
    for (var r = 0; r < body.rows.length; r++) {
      var row = body.rows[r];
      var keep = row.getAttribute("data-kb-text-hidden") !== "1";
      for (var key in state) {
        var want = state[key];
        var value = row.getAttribute("data-" + key) || "";
        if (key === "year") {
          var year = parseInt(value, 10);
          if ((want.from && (!year || year < want.from)) || (want.to && (!year || year > want.to))) keep = false;
        } else if (want && value !== want) {
          keep = false;
        }
      }
      row.hidden = !keep;
    }
  }

  function choice(table, bar, key, label) {
    var rows = table.tBodies[0].rows;
    var values = {};
    for (var r = 0; r < rows.length; r++) values[rows[r].getAttribute("data-" + key) || ""] = true;
    var names = Object.keys(values).filter(Boolean).sort();
    if (names.length < 2) return;
    var select = document.createElement("select");
    select.setAttribute("aria-label", label);
    select.innerHTML = "<option value=''>" + label + ": any</option>";
    names.forEach(function (n) {
      var option = document.createElement("option");
      option.value = n;
      option.textContent = label + ": " + n.replace(/_/g, " ");
      select.appendChild(option);
    });
    select.addEventListener("change", function () {
      table.kbFilters[key] = select.value;
      applyFilters(table);
    });
    bar.appendChild(select);
  }

  function yearRange(table, bar) {
    ["from", "to"].forEach(function (end) {
      var input = document.createElement("input");
      input.type = "number";
      input.min = "1900";
      input.max = "2100";
      input.placeholder = end === "from" ? "Year from" : "Year to";
      input.setAttribute("aria-label", input.placeholder);
      input.addEventListener("input", function () {
        table.kbFilters.year = table.kbFilters.year || {};
        table.kbFilters.year[end] = parseInt(input.value, 10) || null;
        applyFilters(table);
      });
      bar.appendChild(input);
    });
  }

  function addTools(table) {
    if (table.hasAttribute("data-kb-no-tools")) return; /* the home page's short tables */
    var anchor = table.closest(".md-typeset__scrollwrap") || table.closest(".kb-gaps-wrap") || table;
    var bar = document.createElement("div");
    bar.className = "kb-tools";
    table.kbFilters = {};
    if (table.hasAttribute("data-kb-findings")) {
      choice(table, bar, "design", "Design");
      yearRange(table, bar);
      choice(table, bar, "age", "Age group");
      choice(table, bar, "route", "Route");
    }
    addDownload(table, bar);
    anchor.parentNode.insertBefore(bar, anchor);
  }

  function setUpTables() {
    var tables = document.querySelectorAll("article table:not([class]), article table.kb-sortable");
    for (var i = 0; i < tables.length; i++) {
      var table = tables[i];
      if (table.getAttribute("data-kb-ready")) continue;
      if (!prepareTable(table)) continue;
      if (typeof Tablesort !== "undefined") new Tablesort(table);
      addTools(table);
      addFilter(table);
      table.setAttribute("data-kb-ready", "1");
    }
  }

  /* A palette colour as rgb()/rgba(): Cytoscape rejects the forms Material's variables use
   * (#000000de, hsla(225deg …)), so the browser resolves them through a probe element. */
  function colour(name, fallback) {
    var probe = document.createElement("span");
    probe.style.color = "var(" + name + ", " + fallback + ")";
    document.body.appendChild(probe);
    var value = getComputedStyle(probe).color;
    probe.remove();
    return value || fallback;
  }

  var CLASS_COLOUR = "rgb(126, 87, 194)";
  var HARMFUL_COLOUR = "rgb(211, 47, 47)";

  function graphStyle() {
    var text = colour("--md-default-fg-color", "#333");
    var faint = colour("--md-default-fg-color--lighter", "#999");
    var ground = colour("--md-default-bg-color", "#fff");
    var primary = colour("--md-primary-fg-color", "#00695c");
    var accent = colour("--md-accent-fg-color", "#ff6e42");
    return [
      { selector: "node", style: {
        "label": "data(label)", "font-size": 9, "color": text, "width": 10, "height": 10,
        "text-background-color": ground, "text-background-opacity": 0.75, "text-background-padding": 1,
        "min-zoomed-font-size": 7, "background-color": accent, "text-valign": "bottom" } },
      { selector: "node[kind = 'condition']", style: {
        "width": 34, "height": 34, "font-size": 14, "font-weight": "bold", "background-color": primary } },
      { selector: "node[kind = 'context']", style: {
        "width": 20, "height": 20, "font-size": 11, "background-color": ground,
        "border-width": 4, "border-color": primary } },
      { selector: "node[kind = 'class']", style: {
        "shape": "round-rectangle", "width": 16, "height": 16, "background-color": CLASS_COLOUR } },
      { selector: "edge", style: { "width": 1, "line-color": faint, "curve-style": "haystack", "opacity": 0.7 } },
      { selector: "edge[relation = 'context_of']", style: { "width": 3 } },
      { selector: "edge[relation = 'treats']", style: { "width": "mapData(weight, 0, 60, 1, 8)" } },
      { selector: "edge[direction = 'supporting']", style: { "line-color": primary } },
      { selector: "edge[direction = 'harmful']", style: { "line-color": HARMFUL_COLOUR } },
      { selector: "edge[direction = 'contradicted']", style: {
        "line-color": accent, "line-style": "dashed", "curve-style": "straight" } },
      { selector: "edge[relation = 'part_of']", style: { "line-style": "dotted", "curve-style": "straight" } },
      { selector: ".kb-hidden", style: { "display": "none" } },
    ];
  }

  var LAYOUT = { name: "cose", animate: false, randomize: false, nodeRepulsion: 8000, idealEdgeLength: 60 };

  /* One node's neighbourhood: a condition with its disease contexts and what was reported in
   * them (with their classes); an intervention or class with its contexts and their conditions,
   * its class or members and its combinations. */
  function neighbourhood(cy, id) {
    var node = cy.getElementById(id);
    if (node.empty()) return null;
    var keep = node.closedNeighborhood();
    if (node.data("kind") === "condition") {
      var contexts = node.incomers("node");
      keep = keep.union(contexts.incomers());
      keep = keep.union(contexts.incomers("node").outgoers("edge[relation = 'is_a']").connectedNodes());
      keep = keep.union(keep.nodes().edgesWith(keep.nodes()));
    } else {
      if (node.data("kind") === "class") keep = keep.union(keep.nodes("[kind = 'intervention']").outgoers());
      keep = keep.union(keep.nodes("[kind = 'context']").outgoers());
    }
    return keep;
  }

  function focusGraph(cy, id) {
    var shown = document.getElementById("kb-graph-shown");
    var keep = id ? neighbourhood(cy, id) : null;
    cy.batch(function () {
      cy.elements().removeClass("kb-hidden");
      if (keep) cy.elements().not(keep).addClass("kb-hidden");
    });
    var visible = keep || cy.elements();
    visible.layout(LAYOUT).run();
    cy.fit(visible, 20);
    if (shown) {
      shown.textContent = keep
        ? visible.nodes().length + " of " + cy.nodes().length + " nodes: the neighbourhood of " + keep.getElementById(id).data("label")
        : "all " + cy.nodes().length + " nodes";
    }
  }

  function focusFromAddress() {
    var match = /(?:^#|&)focus=([^&]*)/.exec(window.location.hash);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function setUpGraph() {
    var box = document.getElementById("kb-graph");
    var data = document.getElementById("kb-graph-data");
    if (!box || !data || typeof cytoscape === "undefined" || box.getAttribute("data-kb-ready")) return;
    var cy = cytoscape({
      container: box,
      elements: JSON.parse(data.textContent),
      style: graphStyle(),
      layout: { name: "preset" },
      wheelSensitivity: 0.3,
    });
    cy.on("tap", "node", function (event) {
      var url = event.target.data("url");
      if (url) window.location.href = url;
    });
    /* Re-colour when the reader switches between the light and dark palettes. */
    new MutationObserver(function () { cy.style(graphStyle()); })
      .observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
    var chooser = document.getElementById("kb-graph-focus");
    var wanted = focusFromAddress();
    if (chooser) {
      if (wanted && !cy.getElementById(wanted).empty()) chooser.value = wanted;
      chooser.addEventListener("change", function () {
        var url = window.location.pathname + window.location.search + (chooser.value ? "#focus=" + encodeURIComponent(chooser.value) : "");
        history.replaceState(null, "", url);
        focusGraph(cy, chooser.value);
      });
    }
    focusGraph(cy, wanted && !cy.getElementById(wanted).empty() ? wanted : "");
    /* A link to another neighbourhood from this very page changes only the address's fragment. */
    window.addEventListener("hashchange", function () {
      var next = focusFromAddress();
      if (next && cy.getElementById(next).empty()) next = "";
      if (chooser) chooser.value = next;
      focusGraph(cy, next);
    });
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
