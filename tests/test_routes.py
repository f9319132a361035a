"""Treatment rows split by route: the hand KB's sodium thiosulfate findings (intravenous 38
treated with no responder count, intralesional 3/3, a review stating no route), counted one
route at a time by the rules of the pooled row, on a real SQLite file and PostgreSQL."""

from __future__ import annotations

from lxml import html
from test_honest_counts import sts_kb  # noqa: F401 (the fixture)

from conftest import REPO
from kb.aggregate import Scope, aggregate_evidence, aggregate_routes
from queries.db import connect
from queries.render import render_pages
from queries.routes import NO_ROUTE, RouteParts, split_by_route

TEMPLATES = REPO / "site" / "templates"
SSC = Scope(condition_id="calcinosis", context_id="systemic-sclerosis")


def _by(rows: list[dict], level: str, intervention: str) -> list[dict]:
    return [r for r in rows if r["level"] == level and r["intervention_id"] == intervention]


def test_each_route_is_counted_apart_by_the_same_rules(sts_kb: str) -> None:  # noqa: F811
    engine = connect(sts_kb)
    parts = _by(aggregate_routes(engine, SSC), "intervention", "sodium-thiosulfate")
    every = _by(aggregate_routes(engine, by_context=True), "intervention", "sodium-thiosulfate")
    assert [p for p in every if p["context_id"] == "systemic-sclerosis"] == [
        p | {"context_id": "systemic-sclerosis"} for p in parts
    ], "one statement for every context gives each context's rows"
    assert [p["route"] for p in parts] == ["intralesional", "intravenous", None]
    counts = [(p["studies"], p["patients"], p["responders"], p["evaluable"]) for p in parts]
    assert counts == [(1, 3, 3, 3), (1, 38, None, None), (1, None, None, None)]
    assert parts[0]["response_rate"] == 1.0 and parts[1]["response_rate"] is None
    assert [p["primary_design"] for p in parts] == ["case_series", "prospective_cohort", None]
    # Together they are the pooled row: 3 studies, 41 treated, 3/3 evaluable.
    pooled = _by(aggregate_evidence(engine, SSC), "intervention", "sodium-thiosulfate")[0]
    assert sum(p["studies"] for p in parts) == pooled["studies"] == 3
    assert sum(p["patients"] or 0 for p in parts) == pooled["patients"] == 41
    # Diltiazem's findings state no route: one part, nothing to split.
    assert [p["route"] for p in _by(aggregate_routes(engine, SSC), "intervention", "diltiazem")] == [None]


def test_only_rows_with_two_routes_split(sts_kb: str) -> None:  # noqa: F811
    engine = connect(sts_kb)
    rows = aggregate_evidence(engine, SSC)
    split = split_by_route(RouteParts(engine), rows, "calcinosis", "systemic-sclerosis")
    assert {(r["intervention_id"], r["route"]) for r in split} == {
        ("sodium-thiosulfate", "intralesional"),
        ("sodium-thiosulfate", "intravenous"),
        ("sodium-thiosulfate", NO_ROUTE),
    }
    assert [r["anchor"] for r in split] == ["route-intervention-sodium-thiosulfate", None, None]
    assert {r["intervention_id"]: r["routes"] for r in rows}["sodium-thiosulfate"] == 3
    assert {r["intervention_id"]: r["routes"] for r in rows}["diltiazem"] == 0


def test_the_condition_page_lists_the_route_rows_under_the_ranked_table(sts_kb: str) -> None:  # noqa: F811
    from sqlalchemy import create_engine, text

    engine = create_engine(sts_kb)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO topic (id, title, question, description, condition_id, seeds, queries) "
                "VALUES ('hand', 'Hand KB', 'What works?', 'By hand.', 'calcinosis', '[]', '[]')"
            )
        )
    engine.dispose()
    page = render_pages(TEMPLATES, db=sts_kb)["conditions/calcinosis--systemic-sclerosis.md"]
    assert page.index("## By route") > page.index("<caption>Treatments, ranked")
    tables = html.fragments_fromstring(page[page.index("## By route") :].split("\n", 1)[1])
    table = next(t for t in tables if not isinstance(t, str) and t.tag == "table")
    rows = {r.xpath("string(th)"): r for r in table.xpath(".//tbody/tr")}
    assert set(rows) == {
        "sodium thiosulfate, intralesional",
        "sodium thiosulfate, intravenous",
        f"sodium thiosulfate, {NO_ROUTE}",
    }
    assert "3/3 evaluable of 3 treated" in rows["sodium thiosulfate, intralesional"].text_content()
    assert "none evaluable of 38 treated" in rows["sodium thiosulfate, intravenous"].text_content()
    assert rows["sodium thiosulfate, intralesional"].get("id") == "route-intervention-sodium-thiosulfate"
    # The pooled row links to its route rows; diltiazem, given by no stated route, does not split.
    assert 'href="#route-intervention-sodium-thiosulfate"' in page
    assert "diltiazem, " not in page[page.index("## By route") :]
