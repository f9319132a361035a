"""The graph page's graph: disease contexts as nodes, edges coloured by direction and weighted
by patients, over the hand KB of conftest (a real SQLite file, then a real PostgreSQL server)."""

from __future__ import annotations

import json

import queries
from queries.catalog import condition_contexts
from queries.db import connect
from queries.graph_page import context_graph, direction_of, graph_page_data
from queries.pages import records


def _graph(db: str):  # type: ignore[no-untyped-def]
    engine = connect(db)
    return context_graph(engine, records(condition_contexts(db=engine)))


def test_contexts_are_nodes_between_interventions_and_conditions(hand_kb: str) -> None:
    graph = _graph(hand_kb)
    ssc, dm = "context:calcinosis--systemic-sclerosis", "context:calcinosis--dermatomyositis"
    assert graph.nodes[ssc]["kind"] == "context" and graph.nodes[ssc]["label"] == "systemic sclerosis (calcinosis)"
    assert graph.nodes[ssc]["url"] == "conditions/calcinosis--systemic-sclerosis.html"
    assert graph.has_edge(ssc, "condition:calcinosis") and graph.has_edge(dm, "condition:calcinosis")
    # No intervention is linked to a condition directly: always through a context.
    assert not any(
        graph.nodes[v]["kind"] == "condition" and graph.nodes[u]["kind"] == "intervention" for u, v in graph.edges
    )
    assert graph.has_edge("intervention:alendronate", dm) and graph.has_edge("intervention:alendronate", ssc)
    assert graph.has_edge("intervention:alendronate", "class:bisphosphonate")
    assert graph.has_edge("intervention:pamidronate", "intervention:diltiazem-pamidronate")


def test_edges_carry_the_aggregate_direction_and_patients(hand_kb: str) -> None:
    graph = _graph(hand_kb)
    ssc = "context:calcinosis--systemic-sclerosis"
    diltiazem = graph.edges["intervention:diltiazem", ssc]
    # 12 + 17 + 5 treated; improved and partial beside a null finding: contradicted.
    assert (diltiazem["studies"], diltiazem["patients"], diltiazem["weight"]) == (3, 34, 34)
    assert diltiazem["direction"] == "contradicted"
    assert graph.edges["intervention:alendronate", ssc]["direction"] == "supporting"
    review = graph.edges["intervention:bisphosphonates", ssc]
    assert review["patients"] is None and review["weight"] == 0 and review["direction"] == "other"
    table = queries.treatments_for("calcinosis", context="SSc", db=hand_kb).set_index(["level", "intervention_id"])
    assert diltiazem["patients"] == table.loc[("intervention", "diltiazem"), "patients"], "the table's count"


def test_direction_of() -> None:
    assert direction_of({"supporting": 2, "harmful": 1, "contradicted": True}) == "contradicted"
    assert direction_of({"supporting": 1, "harmful": 0}) == "supporting"
    assert direction_of({"supporting": 0, "harmful": 2}) == "harmful"
    assert direction_of({"supporting": 0, "null": 3}) == "other"


def test_the_page_data_offers_each_neighbourhood(hand_kb: str) -> None:
    engine = connect(hand_kb)
    data = graph_page_data(engine, records(condition_contexts(db=engine)))
    elements = json.loads(data["elements"])
    ids = {n["data"]["id"] for n in elements["nodes"]}
    assert [c["id"] for c in data["conditions"]] == ["condition:calcinosis"]
    offered = {c["id"] for c in data["interventions"]}
    assert {"intervention:diltiazem", "class:bisphosphonate"} <= offered <= ids
    assert data["kinds"]["context"] == 2 and data["nodes"] == len(ids)
