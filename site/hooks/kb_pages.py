"""MkDocs hook: render the knowledge base into pages and add them to the build.

Thin on purpose: before MkDocs empties the site folder, it refuses one that holds anything
but a previous build's output (:func:`queries.site.check_site_dir`);
:func:`queries.render.build_sources` writes the pages and the downloads into a folder the
build owns, beside the built site (``<site_dir>-sources``, marked by its manifest, never
``site/``); this hook hands them to MkDocs, copies the vendored JavaScript (installed from
npm by ``make vendor``) that keeps the site working offline, and marks the built site as
one. The KB is read from ``KB_DATABASE_URL`` (default ``kb.sqlite``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from kb.errors import KBError
from queries.render import build_sources
from queries.site import check_site_dir, generated_dir, mark_site_dir
from queries.site_topics import fill_markers, site_identity
from queries.stamp import stamp_text
from queries.weight import prune_site

SITE_SOURCES = Path(__file__).resolve().parent.parent
TEMPLATES = SITE_SOURCES / "templates"
NODE_MODULES = SITE_SOURCES / "node_modules"

# Vendored browser code (installed by `npm ci --prefix site`, never committed): source → built path.
VENDORED = {
    "iframe-worker/shim/index.js": "assets/vendor/iframe-worker/shim.js",
    "tablesort/dist/tablesort.min.js": "assets/vendor/tablesort/tablesort.min.js",
    "tablesort/dist/sorts/tablesort.number.min.js": "assets/vendor/tablesort/tablesort.number.min.js",
    "tablesort/LICENCE": "assets/vendor/tablesort/LICENCE",
    "cytoscape/dist/cytoscape.min.js": "assets/vendor/cytoscape/cytoscape.min.js",
    "cytoscape/LICENSE": "assets/vendor/cytoscape/LICENSE",
}


def on_pre_build(config: MkDocsConfig) -> None:
    # Runs before MkDocs empties the site folder.
    try:
        check_site_dir(Path(config.site_dir))
    except KBError as exc:
        raise PluginError(str(exc)) from exc


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    # The site is titled by its topic (KB_SITE_TOPIC, set by kb build), never by mkdocs.yml.
    try:
        identity = site_identity()
    except KBError as exc:
        raise PluginError(str(exc)) from exc
    config["site_name"] = identity["title"]
    config["site_description"] = identity["question"]
    return config


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    # Hand-written pages name no topic: their markers become the topic being built.
    try:
        return fill_markers(markdown)
    except KBError as exc:
        raise PluginError(str(exc)) from exc


def on_files(files: Files, config: MkDocsConfig) -> Files:
    out_dir = generated_dir(Path(config.site_dir))
    try:
        written = build_sources(TEMPLATES, out_dir)
    except KBError as exc:
        raise PluginError(str(exc)) from exc
    config.extra["kb_stamp"] = stamp_text()  # "Last updated … · KB revision …" on every page
    for path in written:
        relative = path.relative_to(out_dir).as_posix()
        existing = files.get_file_from_path(relative)
        if existing is not None:
            files.remove(existing)
        files.append(
            File(relative, src_dir=str(out_dir), dest_dir=config.site_dir, use_directory_urls=config.use_directory_urls)
        )
    return files


def on_post_build(config: MkDocsConfig) -> None:
    for source, target in VENDORED.items():
        src = NODE_MODULES / source
        if not src.is_file():
            raise PluginError(
                f"{src} is missing: the site's vendored JavaScript is not installed. "
                "Run 'make vendor' (npm ci --prefix site) and build again."
            )
        dest = Path(config.site_dir) / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    prune_site(Path(config.site_dir))  # source maps and unused search languages: not for readers
    mark_site_dir(Path(config.site_dir))
