"""Benchmark: building the site, for the bundled topic and for a synthetic KB of 5,000 articles.

The synthetic KB is the query benchmark's generator (:mod:`query_bench`) at 5,000 articles and
15,000 findings, cached under ``build/bench/``. Each build is timed whole (``build_site``: the
pages and downloads written by the hook, then MkDocs), and its parts are timed alone:
rendering the pages from the KB (``render_pages``) and writing the downloads
(``write_downloads``). What is left is MkDocs itself. The 5,000-article build is compared with
its 60 s target (a ratio under 1 meets it), and with MkDocs alone over the very Markdown it
generated (:func:`mkdocs_floor`: no hook, same theme and plugins), the floor MkDocs imposes,
in the same run (target: at most 1.3 times the floor); the site's size is printed beside the
floor's (which keeps Material's source maps and every lunr language).

Run with ``python tests/benchmarks/run.py site``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from run import Result

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "site" / "templates"
TARGET_S = 60.0
PARAMS: dict[str, Any] = {
    "articles": 5_000,
    "findings": 15_000,
    "citations_per_article": 3,
    "classes": 20,
    "drugs_per_class": 10,
    "combinations": 40,
    "procedures": 10,
    "seed": 20240601,
    "generator": 1,
}


def synthetic_kb() -> Path:
    """The 5,000-article KB (generated once, cached), with the topic row a site needs."""
    import shutil

    from query_bench import kb_path
    from sqlalchemy import create_engine, text

    source = kb_path(PARAMS)
    path = source.with_name(source.stem + "-site.sqlite")
    if not path.is_file():
        shutil.copyfile(source, path.with_suffix(".partial"))
        engine = create_engine(f"sqlite:///{path.with_suffix('.partial')}")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO topic (id, title, question, description, condition_id, seeds, queries) "
                    "VALUES ('synthetic', 'Synthetic evidence', 'What has been tried?', 'A benchmark KB.', "
                    "'calcinosis', '[]', '[]')"
                )
            )
        engine.dispose()
        path.with_suffix(".partial").rename(path)
    return path


def _measure(label: str, db: str, tmp: Path, repeat: int) -> list[Result]:
    from run import Result, median_time

    from queries.downloads import write_downloads
    from queries.render import render_pages
    from queries.site import build_site

    render = median_time(lambda: render_pages(TEMPLATES, db=db), repeat=repeat)
    downloads = median_time(lambda: write_downloads(tmp / "downloads", db=db), repeat=repeat)
    full = median_time(lambda: build_site(tmp / "site", db=db), repeat=repeat)
    pages = sum(1 for _ in (tmp / "site").rglob("*.html"))
    mkdocs = max(0.0, full - render - downloads)
    return [
        Result("site", f"{label}: full build ({pages:,} pages)", full, "render_pages alone", render),
        Result("site", f"{label}: MkDocs (full-render-downloads)", mkdocs, f"{label}: full build", full),
        Result("site", f"{label}: render_pages", render, f"{label}: full build", full),
        Result("site", f"{label}: downloads (exports, SQLite)", downloads, f"{label}: full build", full),
    ]


def mkdocs_floor(site_dir: Path, tmp: Path) -> tuple[float, Path]:
    """MkDocs alone over the very Markdown a build generated: the time it takes, and its site.

    The docs are the hand-written pages plus the generated sources the build left in
    ``<site_dir>-sources``; the config is ``mkdocs.yml`` with the same theme and plugins but
    no hook (so nothing is rendered from the KB, copied or pruned). This is the floor MkDocs
    imposes on any build of these pages.
    """
    import shutil
    import time

    import yaml
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    from queries.site import generated_dir

    docs = tmp / "floor-docs"
    shutil.copytree(REPO / "site" / "docs", docs)
    shutil.copytree(generated_dir(site_dir), docs, dirs_exist_ok=True)
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    config.pop("hooks", None)
    config["docs_dir"] = str(docs)
    config["site_dir"] = str(tmp / "floor-site")
    config["theme"]["custom_dir"] = str(REPO / "site" / "overrides")
    config["strict"] = False  # the vendored scripts the hook copies are absent: not an error here
    config_file = tmp / "floor-mkdocs.yml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    start = time.perf_counter()
    build(load_config(config_file=str(config_file)))
    return time.perf_counter() - start, tmp / "floor-site"


def _floor(label: str, full: float, tmp: Path) -> list[Result]:
    from run import Result

    from queries.weight import site_size

    floor, floor_site = mkdocs_floor(tmp / "site", tmp)
    size, floor_size = site_size(tmp / "site") / 1e6, site_size(floor_site) / 1e6
    return [
        Result("site", f"{label}: full build", full, "mkdocs build alone, same pages", floor),
        Result("site", f"{label}: full build / MkDocs floor", full / floor, "1.3x target", 1.3, unit="x"),
        Result("site", f"{label}: site size", size, "MkDocs alone (maps, all lunr)", floor_size, unit="MB"),
    ]


def bench_site() -> list[Result]:
    """Build times of the bundled topic's site and of a 5,000-article site, with their parts."""
    from run import Result

    from ingest.pipeline import build_topic
    from kb.store import Store
    from kb.topic import load_topic

    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/kb.sqlite"
        store = Store.open(db)
        build_topic(store, load_topic("calcinosis"))
        store.close()
        results += _measure("bundled", db, Path(tmp) / "bundled", repeat=3)
    synthetic = f"sqlite:///{synthetic_kb()}"
    with tempfile.TemporaryDirectory() as tmp:
        measured = _measure("5k articles", synthetic, Path(tmp), repeat=1)
        full = measured[0]
        floor = _floor("5k articles", full.value, Path(tmp))
    results += [*measured, Result("site", "5k articles: full build", full.value, "60 s target", TARGET_S), *floor]
    return results


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(REPO))
    for r in bench_site():
        print(f"{r.measured:<60} {r.value:>8.2f} {r.unit:<3} {r.baseline:<36} {r.baseline_value:>8.2f} {r.ratio:>6.2f}")
