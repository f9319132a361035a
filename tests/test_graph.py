"""The evidence graph: every node and edge kind, aggregates on treats edges, subgraphs, and
the four graph formats read back by networkx."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import networkx as nx
import pytest

import queries
from conftest import HOSTILE_TITLE
from kb.aggregate import aggregate_evidence
from kb.errors import KBError
from kb.graph import build_graph
from kb.graph_export import GRAPH_FILES, portable_graph, write_graph
from kb.store import Store


def _graph(url: str) -> nx.MultiDiGraph:
    store = Store.open(url)
    try:
        return build_graph(store.engine)
    finally:
        store.close()


def test_graph_has_every_node_and_edge_kind(hand_kb: str) -> None:
    graph = _graph(hand_kb)
    kinds = Counter(kind for _, kind in graph.nodes(data="kind"))
    # 7 stored articles + pubmed:999, known only as a citation target.
    assert kinds == {"article": 8, "finding": 9, "intervention": 7, "class": 2, "condition": 1, "context": 2}
    relations = Counter(relation for _, _, relation in graph.edges(data="relation"))
    assert relations["reports"] == 9
    assert relations["about"] == 9 * 3  # intervention, condition and context of each finding
    assert relations["is_a"] == 5  # four drugs and the class-level intervention
    assert relations["part_of"] == 2
    assert relations["cites"] == 4
    assert graph.nodes["pubmed:999"]["in_kb"] is False and graph.nodes["pubmed:1"]["in_kb"] is True
    assert graph.has_edge("pubmed:3", "pubmed:1", key="cites:pubmed_pubmed_refs")
    assert graph.edges["pubmed:7", "pubmed:3", "cites:reference_list"]["source"] == "reference_list"
    assert graph.nodes["pubmed:3"]["label"] == HOSTILE_TITLE


def test_treats_edges_carry_the_aggregate(hand_kb: str) -> None:
    graph = _graph(hand_kb)
    edge = graph.edges["intervention:diltiazem", "condition:calcinosis", "treats:systemic-sclerosis"]
    assert (edge["studies"], edge["patients"], edge["responders"], edge["evaluable"]) == (3, 34, 12, 34)
    assert (edge["supporting"], edge["null"], edge["contradicted"]) == (2, 1, True)
    assert edge["ci_low"] == pytest.approx(0.214879, abs=1e-5)
    assert (edge["best_design"], edge["latest_year"], edge["context"]) == (
        "retrospective_cohort",
        2019,
        "systemic-sclerosis",
    )
    assert edge["combinations"] == ["diltiazem-pamidronate"]
    roll_up = graph.edges["class:bisphosphonate", "condition:calcinosis", "treats:systemic-sclerosis"]
    assert (roll_up["level"], roll_up["studies"], roll_up["interventions"]) == ("class", 3, 5)
    store = Store.open(hand_kb)
    expected = len(aggregate_evidence(store.engine, by_context=True))
    store.close()
    assert sum(1 for _, _, r in graph.edges(data="relation") if r == "treats") == expected


def test_evidence_for_is_the_subgraph_behind_one_answer(hand_kb: str) -> None:
    graph = queries.evidence_for("diltiazem", "calcinosis", context="SSc", db=hand_kb)
    findings = {n for n, kind in graph.nodes(data="kind") if kind == "finding"}
    assert len(findings) == 4  # three of diltiazem's, one of the pair
    articles = {n for n, kind in graph.nodes(data="kind") if kind == "article"}
    assert articles == {"pubmed:1", "pubmed:2", "pubmed:3", "pubmed:5"}
    assert graph.has_edge("pubmed:3", "pubmed:1")  # citations among them are kept
    assert "intervention:alendronate" not in graph and "context:dermatomyositis" not in graph
    assert {"intervention:pamidronate", "class:calcium-channel-blocker", "context:systemic-sclerosis"} <= set(graph)
    edge = graph.edges["intervention:diltiazem", "condition:calcinosis", "treats:systemic-sclerosis"]
    assert (edge["studies"], edge["responders"], edge["evaluable"]) == (3, 12, 34)
    # Diltiazem and the pair are the whole calcium channel blocker class: its roll-up is whole.
    assert (
        graph.edges["class:calcium-channel-blocker", "condition:calcinosis", "treats:systemic-sclerosis"]["studies"]
        == 4
    )
    # Pamidronate and the pair are part of two classes: no roll-up that would understate them.
    partial = queries.evidence_for("pamidronate", "calcinosis", db=hand_kb)
    assert {u for u, _, r in partial.edges(data="relation") if r == "treats"} == {
        "intervention:pamidronate",
        "intervention:diltiazem-pamidronate",
    }
    roll_up = queries.evidence_for("bisphosphonates", "calcinosis", context="SSc", db=hand_kb)
    assert roll_up.edges["class:bisphosphonate", "condition:calcinosis", "treats:systemic-sclerosis"]["studies"] == 3
    nothing = queries.evidence_for("sodium thiosulfate", "calcinosis", db=hand_kb)
    assert set(nothing) == {"condition:calcinosis"}


def test_citation_neighbourhood_follows_links_both_ways(hand_kb: str) -> None:
    alone = queries.citation_neighbourhood("pubmed:3", depth=0, db=hand_kb)
    assert set(alone) == {"pubmed:3"}
    first = queries.citation_neighbourhood("3", db=hand_kb)
    assert dict(first.nodes(data="hops")) == {"pubmed:3": 0, "pubmed:1": 1, "pubmed:7": 1}
    assert first.number_of_edges() == 3  # 7→1, 7→3, 3→1
    second = queries.citation_neighbourhood("pubmed:3", depth=2, db=hand_kb)
    assert second.nodes["pubmed:999"] == {"kind": "article", "label": "pubmed:999", "in_kb": False, "hops": 2}
    assert queries.citation_neighbourhood("10.1000/review", db=hand_kb).number_of_nodes() == 1
    with pytest.raises(KBError, match="no article"):
        queries.citation_neighbourhood("pubmed:12345", db=hand_kb)
    with pytest.raises(ValueError, match="depth"):
        queries.citation_neighbourhood("pubmed:3", depth=-1, db=hand_kb)


def _read(fmt: str, path: Path) -> nx.MultiDiGraph:
    if fmt == "graphml":
        return nx.read_graphml(path, force_multigraph=True)
    if fmt == "gexf":
        return nx.read_gexf(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    if fmt == "node-link":
        return nx.node_link_graph(data, edges="edges")
    return nx.cytoscape_graph(data, name="label")


@pytest.mark.parametrize("fmt", list(GRAPH_FILES))
def test_graph_files_read_back(hand_kb: str, tmp_path: Path, fmt: str) -> None:
    graph = _graph(hand_kb)
    graph.nodes["pubmed:3"]["label"] += "\x0b"  # a control character XML 1.0 cannot carry
    path = write_graph(graph, fmt, tmp_path / GRAPH_FILES[fmt])
    back = _read(fmt, path)
    assert back.is_directed() and back.is_multigraph()
    assert (back.number_of_nodes(), back.number_of_edges()) == (graph.number_of_nodes(), graph.number_of_edges())
    assert set(back) == set(graph)
    label = back.nodes["pubmed:3"]["label"]
    assert label == (HOSTILE_TITLE if fmt in ("graphml", "gexf") else HOSTILE_TITLE + "\x0b")
    assert back.nodes["pubmed:1"]["year"] == 2005
    assert back.nodes["pubmed:999"]["in_kb"] is False
    treats = [d for _, _, d in back.edges(data=True) if d.get("relation") == "treats" and d.get("level") == "class"]
    assert treats and all(isinstance(d["studies"], int) for d in treats)
    if fmt in ("graphml", "gexf"):
        # No None survives; lists become "; "-joined text.
        edge = next(
            d for u, v, d in back.edges(data=True) if u == "intervention:diltiazem" and d.get("relation") == "treats"
        )
        assert edge["combinations"] == "diltiazem-pamidronate"
        assert "doi" not in back.nodes["pubmed:1"]


def test_portable_graph_keeps_no_none_and_no_lists(hand_kb: str) -> None:
    portable = portable_graph(_graph(hand_kb))
    values = [v for _, d in portable.nodes(data=True) for v in d.values()]
    values += [v for _, _, d in portable.edges(data=True) for v in d.values()]
    assert all(isinstance(v, (str, int, float, bool)) for v in values)
    assert len({k for _, _, k in portable.edges(keys=True)}) == portable.number_of_edges()
