"""Publishing: build the static site with MkDocs and serve a built site locally.

The pages themselves are rendered by :mod:`queries.render`, called from the MkDocs hook in
``site/hooks``; this module runs MkDocs on the project's ``mkdocs.yml`` with the KB chosen
by the caller.
"""

from __future__ import annotations

import functools
import http.server
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.db import database_url
from kb.errors import KBError
from queries.site_topics import ALL_TOPICS, SITE_TOPIC_ENV

_REPO_ROOT = Path(__file__).resolve().parent.parent

#: Written into the built site by the MkDocs hook: this folder is a previous build's output,
#: which the next build may empty (MkDocs empties the site folder; it keeps hidden files).
SITE_MARKER = ".kb-site.json"
_MARKER_CONTENT = '{"written_by": "kb build", "what": "the built site; the next kb build replaces it"}\n'
# Sites built before the marker existed are recognised by two files only a kb build writes.
_LEGACY_SIGNATURE = ("index.html", "assets/vendor/tablesort/tablesort.min.js")


def generated_dir(site_dir: Path) -> Path:
    """Where a build keeps the pages it generates: ``<site_dir>-sources``, beside the site.

    The build owns that folder (it writes a manifest there, see
    :func:`queries.render.build_sources`); it is never inside ``site/`` or the built site.
    """
    site_dir = site_dir.resolve()
    return site_dir.with_name(f"{site_dir.name}-sources")


def check_site_dir(site_dir: Path) -> None:
    """Refuse to build into a folder that holds anything but a previous build's output.

    MkDocs empties the site folder before it builds (all but hidden files): a folder given
    by mistake (``--site-dir ~/Documents``) would lose its content.

    Raises:
        KBError: ``site_dir`` is a file, or a non-empty folder without the build's marker.
    """
    if not site_dir.exists():
        return
    if not site_dir.is_dir():
        raise KBError(f"{site_dir} is a file, not a folder: give --site-dir a folder (new or a previous build's)")
    entries = sorted(e.name for e in site_dir.iterdir() if not e.name.startswith("."))
    if not entries or (site_dir / SITE_MARKER).is_file():
        return
    if all((site_dir / name).is_file() for name in _LEGACY_SIGNATURE):
        return
    shown = ", ".join(entries[:3]) + (" …" if len(entries) > 3 else "")
    raise KBError(
        f"{site_dir} is not empty ({shown}) and is not a site kb build made (it has no {SITE_MARKER}); "
        "building there would delete its content. Give --site-dir a new or empty folder, or a previous build's"
    )


def mark_site_dir(site_dir: Path) -> None:
    """Mark ``site_dir`` as a built site (see :data:`SITE_MARKER`)."""
    site_dir.mkdir(parents=True, exist_ok=True)
    (site_dir / SITE_MARKER).write_text(_MARKER_CONTENT, encoding="utf-8")


def find_config(config: Path | None = None) -> Path:
    """The ``mkdocs.yml`` to build with: ``config``, else ``./mkdocs.yml``, else the checkout's.

    Raises:
        KBError: none exists.
    """
    for candidate in (config, Path.cwd() / "mkdocs.yml", _REPO_ROOT / "mkdocs.yml"):
        if candidate is not None and candidate.is_file():
            return candidate.resolve()
    raise KBError(
        "no mkdocs.yml found: run from the project checkout or pass --config PATH/mkdocs.yml "
        "(the site sources live beside it in site/)"
    )


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous


def build_site(
    site_dir: Path,
    *,
    db: str | None = None,
    config: Path | None = None,
    topic: str | None = None,
    all_topics: bool = False,
) -> Path:
    """Build the site from the KB at ``db`` into ``site_dir``; return the home page's path.

    ``site_dir`` must be new, empty or a previous build's output (:func:`check_site_dir`);
    the generated pages are kept in :func:`generated_dir`. The site is titled by ``topic`` (a
    topic id; None: the KB's first topic), or is one site for every topic with ``all_topics``
    (see :mod:`queries.site_topics`).

    Raises:
        KBError: no config; ``site_dir`` holds something else; or MkDocs reported an error
            or (strict mode) a warning.
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    config_file = find_config(config)
    site_dir = site_dir.resolve()
    check_site_dir(site_dir)  # the hook checks too (for `mkdocs build`); here it fails before any work
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    logging.getLogger("mkdocs").setLevel(logging.WARNING)
    chosen = ALL_TOPICS if all_topics else (topic or "")
    with _environment("KB_DATABASE_URL", database_url(db)), _environment(SITE_TOPIC_ENV, chosen):
        try:
            mkdocs_config = load_config(config_file=str(config_file), site_dir=str(site_dir))
            build(mkdocs_config)
        except MkDocsException as exc:
            # MkDocs logs a hook's error and raises a generic Abort: show the error itself.
            raise KBError(f"the site build failed: {exc.__cause__ or exc.__context__ or exc}") from exc
    return site_dir / "index.html"


def serve_site(site_dir: Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve a built site over HTTP until interrupted.

    Raises:
        KBError: there is no built site in ``site_dir``.
    """
    if not (site_dir / "index.html").is_file():
        raise KBError(f"no built site in {site_dir}: run 'kb build' first")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site_dir))
    with http.server.ThreadingHTTPServer((host, port), handler) as server:
        server.serve_forever()
