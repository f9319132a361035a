"""Several topics in one KB without touching each other.

Calcinosis, pyoderma gangrenosum and SSc-ILD are built into one KB in every order (each pack
with the real abstracts of its development corpus, read from ``../shared/corpus``, and a few
calcinosis articles gathered by SSc-ILD as well), on SQLite and PostgreSQL. Each topic's
answers (ranked treatments per condition and context, findings, condition pages, term
lookups) must be exactly those of a KB holding that topic alone, and every shared vocabulary
row must still answer to every name each pack gives it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

import queries
from conftest import shared_path
from ingest.pipeline import build_topic
from kb.models import ArticleRecord, ArticleSource
from kb.store import Store
from kb.topic import TopicPack, load_topic

PACKS = ("calcinosis", "pyoderma-gangrenosum", "ssc-ild")
CORPUS = {"calcinosis": "calcinosis_dev.jsonl", "pyoderma-gangrenosum": "pg_dev.jsonl", "ssc-ild": "ssc_ild_dev.jsonl"}
SHARED_ARTICLES = 6  # calcinosis articles about systemic sclerosis that SSc-ILD gathers too


def _corpus(name: str) -> list[dict]:
    path = shared_path("corpus", CORPUS[name])
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _article(row: dict) -> ArticleRecord:
    curie = f"pubmed:{row['pmid']}" if row.get("pmid") else f"local:{row['id'].lower().replace('.', '-')}"
    return ArticleRecord(
        id=curie,
        pmid=row.get("pmid"),
        title=row.get("title"),
        journal=row.get("journal"),
        year=row.get("year"),
        abstract=row["abstract"],
    )


def _articles_of(name: str) -> list[ArticleRecord]:
    articles = [_article(r) for r in _corpus(name)]
    if name == "ssc-ild":
        calcinosis = [a for a in map(_article, _corpus("calcinosis")) if "systemic sclerosis" in (a.abstract or "")]
        articles += calcinosis[:SHARED_ARTICLES]
    return articles


def build(url: str, pack: TopicPack) -> None:
    """What ``kb build`` does, after the topic's corpus articles were gathered for it."""
    store = Store.open(url)
    articles = _articles_of(pack.id)
    store.save_articles(articles)
    store.save_article_sources(
        ArticleSource(article_id=a.id, topic_id=pack.id, kind="file", detail=CORPUS[pack.id]) for a in articles
    )
    build_topic(store, pack)
    store.close()


def answers(url: str, pack: TopicPack) -> dict[str, pd.DataFrame]:
    """Everything a user of the topic asks of the KB, frame by frame."""
    found: dict[str, pd.DataFrame] = {}
    for condition in pack.vocabulary.conditions:
        found[f"treatments {condition.id}"] = queries.treatments_for(condition.id, db=url)
        for context in condition.contexts:
            found[f"treatments {condition.id} / {context}"] = queries.treatments_for(
                condition.id, context=context, db=url
            )
        frame = queries.findings(condition=condition.id, db=url)
        found[f"findings {condition.id}"] = frame.drop(columns=[c for c in frame if c.endswith("_at")])
    contexts = queries.condition_contexts(db=url)
    own = {c.id for c in pack.vocabulary.conditions}
    pages = contexts[contexts["condition_id"].isin(own)].reset_index(drop=True)
    # A shared entry answers to every pack's names (the merge's union, checked by
    # synonyms_kept): its synonym lists grow with another topic by design, nothing else may.
    found["condition pages"] = pages.drop(columns=[c for c in pages if c.endswith("_synonyms")])
    return found


def synonyms_kept(url: str, packs: list[TopicPack]) -> None:
    """Every shared row still answers to every name any pack gives it."""
    store = Store.open(url, upgrade=False)
    with store.engine.connect() as connection:
        rows = {
            (table, r.id): (r.name, r.synonyms if isinstance(r.synonyms, list) else json.loads(r.synonyms))
            for table in ("disease_context", "condition")
            for r in connection.execute(text(f"SELECT id, name, synonyms FROM {table}"))
        }
    store.close()
    for pack in packs:
        for table, specs in (("disease_context", pack.vocabulary.contexts), ("condition", pack.vocabulary.conditions)):
            for spec in specs:
                name, synonyms = rows[(table, spec.id)]
                assert name == spec.name
                missing = {*spec.synonyms, *spec.abbreviations} - set(synonyms)
                assert not missing, f"{pack.id}: {spec.id} lost {missing}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_db(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """Make fresh, empty databases: SQLite files, or PostgreSQL databases."""
    if request.param == "sqlite":
        return lambda name: f"sqlite:///{tmp_path / name}.sqlite"
    server = request.getfixturevalue("postgres_server")
    return lambda _name: server.new_database()


@pytest.mark.slow
def test_topics_built_together_in_every_order_answer_as_alone(new_db: Callable[[str], str]) -> None:
    packs = {name: load_topic(name) for name in PACKS}
    alone: dict[str, dict[str, pd.DataFrame]] = {}
    for name, pack in packs.items():
        url = new_db(f"alone-{name}")
        build(url, pack)
        alone[name] = answers(url, pack)
        assert sum(len(f) for k, f in alone[name].items() if k.startswith("findings")) > 10, name

    for order in itertools.permutations(PACKS):
        url = new_db("together-" + "-".join(order))
        for name in order:
            build(url, packs[name])
        for name, pack in packs.items():
            got = answers(url, pack)
            assert got.keys() == alone[name].keys()
            for key, frame in alone[name].items():
                pd.testing.assert_frame_equal(got[key], frame, obj=f"{' → '.join(order)}: {name}: {key}")
        synonyms_kept(url, list(packs.values()))
        # The bug this guards against: another pack's row for systemic sclerosis had dropped CREST.
        crest = queries.findings(condition="calcinosis", context="CREST", db=url)
        assert len(crest) > 0 and set(crest["context_id"]) == {"systemic-sclerosis"}
        # Rebuilding one pack again changes nothing.
        before = answers(url, packs[order[0]])
        build(url, packs[order[0]])
        for key, frame in before.items():
            pd.testing.assert_frame_equal(answers(url, packs[order[0]])[key], frame)
