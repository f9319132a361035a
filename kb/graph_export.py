"""Write the evidence graph as GraphML, GEXF, node-link JSON or Cytoscape JSON.

Every writer is deterministic: nodes are written sorted by id and edges by (source, target,
key), JSON keys sorted, and no timestamp is written (networkx's GEXF writer stamps the day;
the stamp is removed). The same KB gives the same bytes.

GraphML and GEXF hold only strings, numbers and booleans, so for them
:func:`portable_graph` drops empty (None) attributes, joins lists with ``"; "``, removes the
control characters XML 1.0 cannot carry, and numbers edges ``e0``, ``e1``, … (Gephi needs
unique edge ids; each edge's relation, context and citation source stay as attributes).
Gephi opens both files; Cytoscape opens the GraphML and the Cytoscape JSON
(``File → Import → Network from File``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import networkx as nx
from networkx.readwrite.gexf import GEXFWriter

#: Graph formats and the file each is written to.
GRAPH_FILES: dict[str, str] = {
    "graphml": "kb.graphml",
    "gexf": "kb.gexf",
    "node-link": "kb.node-link.json",
    "cytoscape": "kb.cytoscape.json",
}

# Characters XML 1.0 forbids (C0 controls other than tab, newline and carriage return;
# lone surrogates; U+FFFE and U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def sorted_graph(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy of ``graph`` whose nodes and edges iterate in sorted order."""
    copy = nx.MultiDiGraph()
    copy.graph.update(graph.graph)
    copy.add_nodes_from(sorted(graph.nodes(data=True), key=lambda item: str(item[0])))
    copy.add_edges_from(sorted(graph.edges(keys=True, data=True), key=lambda e: (str(e[0]), str(e[1]), str(e[2]))))
    return copy


def portable_graph(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A sorted copy of ``graph`` that GraphML and GEXF can hold (see the module documentation)."""
    ordered = sorted_graph(graph)
    portable = nx.MultiDiGraph()
    portable.add_nodes_from((node, _portable(data)) for node, data in ordered.nodes(data=True))
    portable.add_edges_from((u, v, f"e{n}", _portable(data)) for n, (u, v, data) in enumerate(ordered.edges(data=True)))
    return portable


def _portable(attributes: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            value = "; ".join(str(v) for v in value)
        if isinstance(value, str):
            value = _NOT_XML.sub("", value)
        clean[name] = value
    return clean


def write_graph(graph: nx.MultiDiGraph, fmt: str, path: Path) -> Path:
    """Write ``graph`` to ``path`` in ``fmt`` (a key of :data:`GRAPH_FILES`); return ``path``.

    Raises:
        ValueError: ``fmt`` is not a graph format.
    """
    if fmt == "graphml":
        nx.write_graphml(portable_graph(graph), path, encoding="utf-8", prettyprint=True)
    elif fmt == "gexf":
        writer = GEXFWriter(encoding="utf-8", prettyprint=True)
        writer.add_graph(portable_graph(graph))
        meta = writer.xml.find("meta")
        if meta is not None:
            meta.attrib.pop("lastmodifieddate", None)
        writer.write(path)
    elif fmt == "node-link":
        _write_json(nx.node_link_data(sorted_graph(graph), edges="edges"), path)
    elif fmt == "cytoscape":
        _write_json(nx.cytoscape_data(sorted_graph(graph), name="label"), path)
    else:
        raise ValueError(f"unknown graph format {fmt!r}; use one of {', '.join(GRAPH_FILES)}")
    return path


def _write_json(data: object, path: Path) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1) + "\n", encoding="utf-8")
