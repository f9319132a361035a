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

_REPO_ROOT = Path(__file__).resolve().parent.parent


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


def build_site(site_dir: Path, *, db: str | None = None, config: Path | None = None) -> Path:
    """Build the site from the KB at ``db`` into ``site_dir``; return the home page's path.

    Raises:
        KBError: no config, or MkDocs reported an error or (strict mode) a warning.
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    config_file = find_config(config)
    site_dir = site_dir.resolve()
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    logging.getLogger("mkdocs").setLevel(logging.WARNING)
    with _environment("KB_DATABASE_URL", database_url(db)):
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
