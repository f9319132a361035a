"""Benchmark: the query API and the evidence graph on a synthetic KB of 100,000 articles and
300,000 findings (SQLite).

The KB is generated with bulk inserts (SQLAlchemy Core executemany) from a seeded random
generator, and cached under ``build/bench/`` in a file named after its parameters and the schema
revision, so only the first run pays for it. Its shape follows the real topic: three conditions (calcinosis
the largest), eight disease contexts and some findings without one, 20 classes of 10 drugs
plus combinations, procedures and class-level mentions, with skewed popularity; mostly
case reports and series; three references per article.

Latencies are medians over repeated calls, after one warm-up call, against the 50 ms target
(a ratio under 1 meets it). ``treatments_for`` is measured twice: counting the findings live
(the summary made stale) and reading the precomputed ``evidence_summary``, whose refresh
time is reported against one live count over all contexts. The graph is built in a fresh interpreter, which reports the
build time against the time to read the same rows from SQL, and its peak RSS (VmHWM)
against the interpreter's before the build.

Run with ``python tests/benchmarks/run.py query``.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from run import Result

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "build" / "bench"
PARAMS: dict[str, Any] = {
    "articles": 100_000,
    "findings": 300_000,
    "citations_per_article": 3,
    "classes": 20,
    "drugs_per_class": 10,
    "combinations": 40,
    "procedures": 10,
    "seed": 20240601,
    "generator": 1,  # bump when the generator changes, so the cached KB is rebuilt
}
TARGET_MS = 50.0
CONDITIONS = {"calcinosis": 0.7, "calciphylaxis": 0.2, "tumoral-calcinosis": 0.1}
CONTEXTS = (
    "systemic-sclerosis",
    "dermatomyositis",
    "juvenile-dermatomyositis",
    "lupus",
    "overlap",
    "end-stage-renal-disease",
    "hyperphosphataemia",
    "other-context",
)
DESIGNS = {
    "case_report": 45,
    "case_series": 30,
    "retrospective_cohort": 12,
    "prospective_cohort": 4,
    "rct": 2,
    "review": 5,
    "systematic_review": 2,
}
RESPONSES = {"complete": 8, "partial": 20, "improved": 25, "mixed": 12, "none": 20, "worsened": 5, "unclear": 10}


def kb_path(params: dict[str, Any] = PARAMS) -> Path:
    """The cached KB file for ``params`` (generated on first use)."""
    from alembic.script import ScriptDirectory

    from kb.db import alembic_config

    schema = ScriptDirectory.from_config(alembic_config()).get_current_head()
    key = hashlib.sha256(json.dumps([params, schema], sort_keys=True).encode()).hexdigest()[:12]
    path = CACHE / f"query-{key}.sqlite"
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        print(f"query: generating the synthetic KB in {path} (cached for later runs)", flush=True)
        _generate(f"sqlite:///{partial}", params)
        partial.rename(path)
    return path


def _vocabulary(params: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    classes, interventions, components = [], [], []
    for c in range(params["classes"]):
        class_id = f"class-{c:02d}"
        classes.append({"id": class_id, "name": f"class {c:02d}", "synonyms": [f"class {c:02d}s"]})
        interventions.append(
            {"id": f"{class_id}-any", "name": f"class {c:02d} drugs", "kind": "class", "class_id": class_id}
        )
        for d in range(params["drugs_per_class"]):
            interventions.append(
                {"id": f"drug-{c:02d}-{d}", "name": f"drug {c:02d}-{d}", "kind": "drug", "class_id": class_id}
            )
    drugs = [i["id"] for i in interventions if i["kind"] == "drug"]
    rng = random.Random(params["seed"])
    for n in range(params["combinations"]):
        pair = rng.sample(drugs, 2)
        interventions.append({"id": f"combo-{n:02d}", "name": " + ".join(pair), "kind": "combination"})
        components += [
            {"combination_id": f"combo-{n:02d}", "component_id": p, "position": k} for k, p in enumerate(pair)
        ]
    interventions += [
        {"id": f"procedure-{n}", "name": f"procedure {n}", "kind": "procedure"} for n in range(params["procedures"])
    ]
    for row in interventions:
        row.setdefault("class_id", None)
        row.setdefault("synonyms", [])
    conditions = [{"id": c, "name": c.replace("-", " "), "synonyms": []} for c in CONDITIONS]
    contexts = [{"id": c, "name": c.replace("-", " "), "synonyms": []} for c in CONTEXTS]
    pairs = [{"condition_id": c, "context_id": x} for c in CONDITIONS for x in CONTEXTS]
    return {
        "intervention_class": classes,
        "intervention": interventions,
        "intervention_component": components,
        "condition": conditions,
        "disease_context": contexts,
        "condition_context": pairs,
    }


def _generate(url: str, params: dict[str, Any]) -> None:
    from sqlalchemy import insert

    from kb.models import SQLModel
    from kb.store import Store

    rng = random.Random(params["seed"])
    store = Store.open(url)
    tables = SQLModel.metadata.tables
    vocabulary = _vocabulary(params)
    now = datetime(2025, 6, 1, tzinfo=UTC)
    n_articles = params["articles"]
    years = [
        rng.choice(range(1960, 2026)) if rng.random() < 0.3 else rng.choice(range(2005, 2026))
        for _ in range(n_articles)
    ]
    articles = [
        {
            "id": f"pubmed:{10_000_000 + n}",
            "pmid": str(10_000_000 + n),
            "title": f"Treatment of calcinosis in patient group {n}: a report of outcomes",
            "journal": f"Journal {n % 500}",
            "year": years[n],
            "authors": [f"Author{n % 997} A", f"Author{n % 991} B"],
            "publication_types": ["Case Reports"],
            "mesh_terms": ["Calcinosis"],
            "retracted": False,
            "created_at": now - timedelta(minutes=n),
            "updated_at": now - timedelta(minutes=n),
        }
        for n in range(n_articles)
    ]
    # Popularity is skewed: a few drugs carry most of the evidence, as in the real topic.
    intervention_ids = [i["id"] for i in vocabulary["intervention"]]
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(intervention_ids))]
    rng.shuffle(weights)
    chosen = rng.choices(intervention_ids, weights, k=params["findings"])
    conditions = rng.choices(list(CONDITIONS), list(CONDITIONS.values()), k=params["findings"])
    designs = rng.choices(list(DESIGNS), list(DESIGNS.values()), k=params["findings"])
    responses = rng.choices(list(RESPONSES), list(RESPONSES.values()), k=params["findings"])
    findings = []
    for n in range(params["findings"]):
        design = designs[n]
        treated = 1 if design == "case_report" else rng.randint(2, 30 if design == "case_series" else 200)
        counted = rng.random() < 0.8
        content_hash = hashlib.sha256(f"finding {n}".encode()).hexdigest()
        findings.append(
            {
                "id": f"finding:{content_hash[:16]}",
                "content_hash": content_hash,
                "article_id": f"pubmed:{10_000_000 + rng.randrange(n_articles)}",
                "intervention_id": chosen[n],
                "condition_id": conditions[n],
                "context_id": None if rng.random() < 0.15 else rng.choice(CONTEXTS),
                "age_group": "unknown",
                "n_treated": treated if counted else None,
                "n_responded": rng.randint(0, treated) if counted else None,
                "response": responses[n],
                "study_design": design,
                "evidence": f"Of the patients treated, several improved after {chosen[n]} (finding {n}).",
                "origin": "extracted",
                "extractor": "synthetic",
                "extractor_version": "1",
                "created_at": now - timedelta(minutes=n),
            }
        )
    citations = {
        (f"pubmed:{10_000_000 + n}", f"pubmed:{10_000_000 + rng.randrange(n_articles)}", "pubmed_pubmed_refs")
        for n in range(n_articles)
        for _ in range(params["citations_per_article"])
    }
    rows = {
        **vocabulary,
        "article": articles,
        "finding": findings,
        "citation": [{"citing_id": a, "cited_id": b, "source": s} for a, b, s in sorted(citations)],
    }
    with store.engine.begin() as connection:
        for name, batch in rows.items():
            for start in range(0, len(batch), 20_000):
                connection.execute(insert(tables[name]), batch[start : start + 20_000])
    store.close()


# Graph build in a fresh interpreter: SQL read time, build time, RSS before and peak after.
_GRAPH_SCRIPT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from sqlalchemy import create_engine, text
from kb.graph import build_graph

def rss(field):
    status = open("/proc/self/status").read()
    return int(status.split(field + ":")[1].split()[0]) / 1024

engine = create_engine("sqlite:///" + sys.argv[2])
before = rss("VmRSS")
start = time.perf_counter()
with engine.connect() as conn:
    for table in ("intervention", "article", "citation", "finding"):
        conn.execute(text(f"SELECT * FROM {table}")).fetchall()
read = time.perf_counter() - start
start = time.perf_counter()
graph = build_graph(engine)
built = time.perf_counter() - start
print(read, built, before, rss("VmHWM"), graph.number_of_nodes(), graph.number_of_edges())
"""


def bench_query() -> list[Result]:
    """Median latencies of treatments_for and findings, and the graph build's time and memory."""
    from run import Result, median_time
    from sqlalchemy import text

    import queries
    from kb.store import Store

    path = kb_path()
    db = f"sqlite:///{path}"
    store = Store.open(db)
    with store.engine.begin() as connection:  # make the summary stale: count live first
        connection.execute(text("UPDATE kb_state SET summary_revision = NULL"))
    live = {
        "one context": lambda: queries.treatments_for("calcinosis", context="systemic sclerosis", db=db),
        "all contexts": lambda: queries.treatments_for("calcinosis", db=db),
    }
    live_ms = {}
    for label, call in live.items():
        call()
        live_ms[label] = median_time(call, repeat=5) * 1000
    start = time.perf_counter()
    store.refresh_summary()
    refresh = time.perf_counter() - start
    with store.engine.connect() as connection:
        summary_rows = connection.execute(text("SELECT COUNT(*) FROM evidence_summary")).scalar_one()
    store.close()
    results = [
        Result("query", f"treatments_for, {label}, counted live", ms, "50 ms target", TARGET_MS, "ms")
        for label, ms in live_ms.items()
    ]
    results.append(
        Result(
            "query",
            f"evidence summary refresh ({summary_rows:,} rows)",
            refresh,
            "treatments_for, all contexts, live",
            live_ms["all contexts"] / 1000,
        )
    )
    calls = {
        "treatments_for, one context": lambda: queries.treatments_for(
            "calcinosis", context="systemic sclerosis", db=db
        ),
        "treatments_for, all contexts": lambda: queries.treatments_for("calcinosis", db=db),
        "findings, one drug": lambda: queries.findings(intervention="drug 03-4", db=db),
        "findings, one class": lambda: queries.findings(intervention="class 07", db=db),
        "findings, condition + context": lambda: queries.findings(
            condition="tumoral calcinosis", context="lupus", db=db
        ),
        "findings, one condition": lambda: queries.findings(condition="tumoral calcinosis", db=db),
    }
    for label, call in calls.items():
        rows = len(call())  # warm-up: connection pool, SQLite page cache
        latency = median_time(call, repeat=15) * 1000
        results.append(Result("query", f"{label} ({rows:,} rows)", latency, "50 ms target", TARGET_MS, "ms"))
    done = subprocess.run(
        [sys.executable, "-c", _GRAPH_SCRIPT, str(REPO), str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    read, built, before, peak, nodes, edges = done.stdout.split()
    graph = f"{int(nodes) / 1e3:,.0f}k nodes, {int(edges) / 1e6:.2f}M edges"
    results += [
        Result("query", f"build_graph ({graph})", float(built), "reading its rows from SQL", float(read)),
        Result("query", "build_graph peak RSS", float(peak), "interpreter before the build", float(before), "MB"),
    ]
    return results


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(REPO))
    for r in bench_query():
        print(
            f"{r.measured:<55} {r.value:>10.1f} {r.unit:<3} {r.baseline:<30} {r.baseline_value:>10.1f} {r.ratio:>6.2f}"
        )
