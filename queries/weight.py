"""What a built site does not need: source maps and search word-splitters for other languages.

Material ships, into every build, the source maps of its JavaScript (about 1 MB: useful to
its developers, never to a reader) and lunr's stemmers and word segmenters for some thirty
languages (about 1 MB), of which the search of an English site loads none. :func:`prune_site`
removes them after the build and drops the ``sourceMappingURL`` comments that point at the
maps, so a browser's developer tools do not ask for missing files.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["prune_site", "site_size"]

_MAP_COMMENT = re.compile(rb"\n?//# sourceMappingURL=[^\n]*\.map\s*$")


def prune_site(site_dir: Path) -> list[Path]:
    """Remove the source maps and lunr language files under ``site_dir``; return what was removed.

    Only an English search is configured (Material's default), which needs no lunr language
    file; a site configured for other languages must not be pruned this way.
    """
    javascripts = site_dir / "assets" / "javascripts"
    removed = sorted(javascripts.rglob("*.map"))
    lunr = javascripts / "lunr"
    if lunr.is_dir():
        removed += sorted(p for p in lunr.rglob("*") if p.is_file())
    for path in removed:
        path.unlink()
    if lunr.is_dir():
        for folder in sorted((p for p in lunr.rglob("*") if p.is_dir()), reverse=True):
            folder.rmdir()
        lunr.rmdir()
    for script in sorted(javascripts.rglob("*.min.js")):
        content = script.read_bytes()
        stripped = _MAP_COMMENT.sub(b"\n", content)
        if stripped != content:
            script.write_bytes(stripped)
    return removed


def site_size(site_dir: Path) -> int:
    """Bytes of every file under ``site_dir``."""
    return sum(p.stat().st_size for p in site_dir.rglob("*") if p.is_file())
