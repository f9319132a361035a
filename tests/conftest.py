"""Shared fixtures: real databases (a SQLite file and a PostgreSQL server on 127.0.0.1),
the synthetic test topic, and the location of ``../shared`` data when it is present.

The PostgreSQL server is started once per test session from the Debian ``postgresql``
package (``make test`` installs it). Each test gets its own fresh database. In CI
(``CI=true``) a missing server fails the run instead of skipping: the PostgreSQL tests must
really run there.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MINI_TOPIC = FIXTURES / "minitopic"
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path in ``../shared``; skips the test cleanly when that data is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available (the shared data folder sits beside the repository in CI)")
    return path


def corpus_texts() -> list[str]:
    """Every development-corpus title and abstract, as stored and cleaned, and every sentence
    of the cleaned abstracts; skips the test cleanly when ``../shared/corpus`` is absent."""
    import json

    from ingest.extraction.text import clean, split_sentences

    corpus = shared_path("corpus")
    texts: list[str] = []
    for path in sorted(corpus.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                title, abstract = record.get("title") or "", record.get("abstract") or ""
                texts.extend([title, abstract, clean(title), clean(abstract)])
                texts.extend(s.text for s in split_sentences(clean(abstract)))
    return texts


def every_cue() -> list[tuple[str, Any]]:
    """Every cue of the extraction modules: module attributes, the cues held in their tables
    (``cues.DESIGN_CUES``), and the cues read from the fields table."""
    import dataclasses
    import importlib
    import pkgutil

    import ingest.extraction
    import ingest.extractors
    from ingest.extraction import fields
    from ingest.extraction.patterns import Cue

    found: dict[int, tuple[str, Cue]] = {}

    def collect(name: str, value: object, depth: int = 0) -> None:
        if isinstance(value, Cue):
            found.setdefault(id(value), (name, value))
        elif depth < 3 and isinstance(value, (tuple, list)):
            for i, item in enumerate(value):
                collect(f"{name}[{i}]", item, depth + 1)
        elif depth < 3 and dataclasses.is_dataclass(value) and not isinstance(value, type):
            for field in dataclasses.fields(value):
                collect(f"{name}.{field.name}", getattr(value, field.name), depth + 1)

    for package in (ingest.extraction, ingest.extractors):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for name, value in vars(module).items():
                collect(f"{info.name}.{name}", value)
    collect("fields._cues()", fields._cues())
    return list(found.values())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A throw-away PostgreSQL cluster listening on 127.0.0.1."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.port = _free_port()
        self._user: list[str] = []
        self._counter = itertools.count()
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root.
            pwd.getpwnam("postgres")
            shutil.chown(root, "postgres")
            root.chmod(0o700)
            self._user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self._user, *args], check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "kb", "-E", "UTF8")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def new_database(self) -> str:
        import psycopg

        name = f"kb_test_{next(self._counter)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=kb dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://kb@127.0.0.1:{self.port}/{name}"


def _find_postgres_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _find_postgres_bindir()
    if bindir is None:
        message = "PostgreSQL is not installed: run 'make test' (it installs the Debian postgresql package)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="kb-pg-"))
    server = PostgresServer(bindir, root)
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        pytest.fail(f"could not start PostgreSQL: {exc.stderr}\n{log}")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kb.sqlite'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture
def mini_pack():  # type: ignore[no-untyped-def]
    from kb.topic import load_topic

    return load_topic(MINI_TOPIC)


@pytest.fixture
def mini_kb(db_url: str, mini_pack) -> str:  # type: ignore[no-untyped-def]
    """A database holding the synthetic test topic; returns its URL."""
    from ingest.pipeline import build_topic
    from kb.store import Store

    store = Store.open(db_url)
    build_topic(store, mini_pack)
    store.close()
    return db_url


# A KB written through the store with numbers chosen to be checked by hand (see
# test_queries.py): calcinosis in systemic sclerosis (SSc) and dermatomyositis (DM).
HOSTILE_TITLE = (
    'Calcinosis {unbalanced <script>alert("x")</script> 100% & $5 #1 snake_case ^caret ~tilde '
    "back\\slash}} [md](javascript:x) **bold**\nsecond line"
)
HAND_VOCABULARY = {
    "classes": [
        {"id": "calcium-channel-blocker", "name": "calcium channel blocker", "abbreviations": ["CCB"]},
        {"id": "bisphosphonate", "name": "bisphosphonate"},
    ],
    "interventions": [
        {
            "id": "diltiazem",
            "name": "diltiazem",
            "kind": "drug",
            "class": "calcium-channel-blocker",
            "brands": ["Cardizem"],
        },
        {"id": "alendronate", "name": "alendronate", "kind": "drug", "class": "bisphosphonate"},
        {"id": "etidronate", "name": "etidronate", "kind": "drug", "class": "bisphosphonate"},
        {"id": "pamidronate", "name": "pamidronate", "kind": "drug", "class": "bisphosphonate"},
        {"id": "bisphosphonates", "name": "bisphosphonates", "kind": "class", "class": "bisphosphonate"},
        {
            "id": "diltiazem-pamidronate",
            "name": "diltiazem + pamidronate",
            "kind": "combination",
            "components": ["diltiazem", "pamidronate"],
        },
        {"id": "sodium-thiosulfate", "name": "sodium thiosulfate", "kind": "drug", "abbreviations": ["STS"]},
    ],
    "conditions": [{"id": "calcinosis", "name": "calcinosis", "contexts": ["systemic-sclerosis", "dermatomyositis"]}],
    "contexts": [
        {"id": "systemic-sclerosis", "name": "systemic sclerosis", "abbreviations": ["SSc"]},
        {"id": "dermatomyositis", "name": "dermatomyositis", "abbreviations": ["DM"]},
    ],
}
HAND_ARTICLES = [
    {
        "id": "pubmed:1",
        "pmid": "1",
        "title": "Diltiazem series",
        "journal": "J Tests",
        "year": 2005,
        "authors": ["Alpha A", "Beta BC"],
    },
    {
        "id": "pubmed:2",
        "pmid": "2",
        "title": "Diltiazem cohort",
        "journal": "J Tests",
        "year": 2012,
        "doi": "10.1000/two",
    },
    {
        "id": "pubmed:3",
        "pmid": "3",
        "title": HOSTILE_TITLE,
        "journal": "J & Co {x}",
        "year": 2019,
        "authors": ["SSc Study Group", "O'Brien P"],
    },
    {"id": "pubmed:4", "pmid": "4", "title": "Two bisphosphonates", "year": 2016},
    {"id": "pubmed:5", "pmid": "5", "title": "Etidronate and the pair", "year": 2021},
    {"id": "doi:10.1000/review", "doi": "10.1000/review", "title": "A review", "year": 2008},
    {"id": "pubmed:7", "pmid": "7", "title": "Cites the others, reports nothing", "year": 2022},
]
# (key, article, intervention, context, treated, responded, response, design)
HAND_FINDINGS = [
    ("d1", "pubmed:1", "diltiazem", "systemic-sclerosis", 12, 3, "improved", "case_series"),
    ("d2", "pubmed:2", "diltiazem", "systemic-sclerosis", 17, 9, "partial", "retrospective_cohort"),
    ("d3", "pubmed:3", "diltiazem", "systemic-sclerosis", 5, 0, "none", "case_report"),
    ("a4", "pubmed:4", "alendronate", "systemic-sclerosis", 6, 2, "improved", "case_series"),
    ("p4", "pubmed:4", "pamidronate", "systemic-sclerosis", 8, 4, "improved", "case_series"),
    ("e5", "pubmed:5", "etidronate", "systemic-sclerosis", 4, 1, "partial", "case_series"),
    ("dp5", "pubmed:5", "diltiazem-pamidronate", "systemic-sclerosis", 2, 2, "complete", "case_report"),
    ("b6", "doi:10.1000/review", "bisphosphonates", "systemic-sclerosis", None, None, "none", "review"),
    ("a2", "pubmed:2", "alendronate", "dermatomyositis", 1, 1, "complete", "case_report"),
]
HAND_CITATIONS = [
    ("pubmed:7", "pubmed:1", "pubmed_pubmed_refs"),
    ("pubmed:7", "pubmed:3", "reference_list"),
    ("pubmed:3", "pubmed:1", "pubmed_pubmed_refs"),
    ("pubmed:1", "pubmed:999", "pubmed_pubmed_refs"),  # an article the KB does not hold
]


def hand_finding(
    key: str,
    article: str,
    intervention: str,
    context: str | None,
    treated: int | None,
    responded: int | None,
    response: str,
    design: str,
    *,
    topic: str = "hand",
    route: str | None = None,
) -> Any:
    """A curated calcinosis finding as the hand KB stores them (a :class:`kb.models.FindingRecord`)."""
    from kb.models import FindingRecord

    return FindingRecord(
        article_id=article,
        intervention_id=intervention,
        condition_id="calcinosis",
        context_id=context,
        route=route,
        n_treated=treated,
        n_responded=responded,
        response=response,
        study_design=design,
        summary=f"Finding {key}.",
        origin="curated",
        extractor="curated",
        curation_key=f"{topic}:{key}",
        topic_id=topic,
    )


@pytest.fixture
def hand_kb(db_url: str) -> str:
    """A database holding the hand-computed KB above; returns its URL."""
    from kb.models import ArticleRecord, Citation
    from kb.store import Store
    from kb.vocabulary import Vocabulary

    store = Store.open(db_url)
    store.save_vocabulary(Vocabulary.model_validate(HAND_VOCABULARY))
    store.save_articles([ArticleRecord(**a) for a in HAND_ARTICLES])
    store.save_citations([Citation(citing_id=a, cited_id=b, source=s) for a, b, s in HAND_CITATIONS])
    store.save_curated_findings("hand", [hand_finding(*f) for f in HAND_FINDINGS])
    store.close()
    return db_url
