"""The site's Atom feed: what each refresh added, for a reader to subscribe to.

:func:`render_feed` writes an Atom 1.0 document (RFC 4287) from the refresh runs the KB
keeps (the changelog's data, :func:`queries.pages.run_additions`): one entry per article a
successful or partial run added, newest first, linking to the article's page. The build puts
it at the site's root as ``feed.xml``; every page's head and the home page link to it.

Entry ids are ``urn:uuid:`` URIs derived from the topic, the run and the article, so an entry
keeps its id from one build to the next and a feed reader shows it once. Links are relative
to the feed (which sits at the site's root), so the feed works wherever the site is served.
Text from PubMed or curators is cleaned of the characters XML cannot carry (control
characters) and escaped by lxml; the same KB gives the same bytes.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from queries.pages import SiteData, run_additions, slug

__all__ = ["ATOM", "FEED_LIMIT", "FEED_PATH", "entry_id", "feed_entries", "render_feed", "xml_text"]

ATOM = "http://www.w3.org/2005/Atom"
#: Where the feed is in the built site (relative to its root).
FEED_PATH = "feed.xml"
#: Entries in the feed: the most recent additions (a reader keeps the ones it has seen).
FEED_LIMIT = 100
# Runs whose additions are published: a partial run stored its completed windows' articles.
_PUBLISHED = ("success", "partial")
# Characters XML 1.0 cannot carry (C0 controls but tab, newline and return; DEL; C1
# controls; surrogates; U+FFFE and U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:treatment-evidence-kb:feed")


def xml_text(value: object) -> str:
    """Untrusted text as XML can carry it: control characters dropped, whitespace collapsed."""
    if value is None:
        return ""
    return re.sub(r"\s+", " ", _NOT_XML.sub("", str(value))).strip()


def entry_id(*parts: object) -> str:
    """A stable ``urn:uuid:`` id for the thing named by ``parts`` (topic, run, article)."""
    return uuid.uuid5(_ID_NAMESPACE, json.dumps([str(p) for p in parts], ensure_ascii=False)).urn


def _timestamp(moment: datetime) -> str:
    """An RFC 3339 date-time in UTC, to the second (``2025-06-01T04:30:00Z``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM}}}{name}", attributes)
    if text is not None:
        element.text = text
    return element


def _summary(article: Mapping[str, Any], run: Mapping[str, Any]) -> str:
    where = ", ".join(xml_text(v) for v in (article.get("journal"), article.get("year")) if v)
    findings = int(article.get("findings") or 0)
    ran = run["started_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"{where}." if where else "",
        f"{findings} finding{'s' if findings != 1 else ''} in the knowledge base.",
        f"Added by the refresh of {ran} (run {run['id']}).",
    ]
    if article.get("retracted"):
        parts.append("PubMed marks it retracted.")
    return " ".join(p for p in parts if p)


def feed_entries(site: SiteData, topics: set[str]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(run, article) pairs the feed publishes, most recently added first, at most :data:`FEED_LIMIT`."""
    pairs = []
    seen: set[str] = set()
    # Oldest run first: an article stored in the second one run ended and the next began is
    # the earlier run's (the runs' windows are compared to the second, as the changelog does).
    for run in sorted(site.runs, key=lambda r: (r["started_at"], r["id"])):
        if run["status"] in _PUBLISHED and run["topic_id"] in topics:
            for article in run_additions(site, run):
                if article["id"] not in seen:
                    seen.add(article["id"])
                    pairs.append((run, article))
    pairs.sort(key=lambda pair: (pair[1]["added"], pair[0]["id"], pair[1]["id"]), reverse=True)
    return pairs[:FEED_LIMIT]


def render_feed(site: SiteData, topics: set[str], *, updated: datetime | None = None) -> str:
    """The Atom feed of what the refreshes of ``topics`` added, as an XML document.

    Args:
        site: the site's data (:class:`queries.pages.SiteData`).
        topics: the ids of the topics the site is built for; their runs are published.
        updated: when the KB last changed (:func:`queries.stamp.kb_stamp`); the feed's
            ``updated`` is the latest of it and its entries' (the Unix epoch for an empty KB).

    Returns:
        The document, UTF-8 with its XML declaration, ending in a newline.
    """
    entries = feed_entries(site, topics)
    moments = [a["added"] for _, a in entries] + ([updated] if updated is not None else [])
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    title = xml_text(site.topic.get("title")) or "Treatment-outcome evidence"
    _add(feed, "id", entry_id("feed", *sorted(topics)))
    _add(feed, "title", f"{title}: new in the knowledge base", type="text")
    _add(feed, "subtitle", xml_text(site.topic.get("question")) or title, type="text")
    _add(feed, "updated", _timestamp(max(moments) if moments else datetime(1970, 1, 1, tzinfo=UTC)))
    _add(_add(feed, "author"), "name", f"{title} (kb refresh)")
    _add(feed, "link", rel="self", type="application/atom+xml", href=FEED_PATH)
    _add(feed, "link", rel="alternate", type="text/html", href="changelog.html")
    _add(feed, "generator", "kb build")
    for run, article in entries:
        entry = _add(feed, "entry")
        _add(entry, "id", entry_id(run["topic_id"], run["id"], article["id"]))
        _add(entry, "title", xml_text(article.get("title")) or article["id"], type="text")
        _add(entry, "updated", _timestamp(article["added"]))
        _add(entry, "published", _timestamp(article["added"]))
        _add(entry, "link", rel="alternate", type="text/html", href=f"articles/{slug(article['id'])}.html")
        _add(entry, "category", term=xml_text(run["topic_id"]), label=title)
        _add(entry, "summary", _summary(article, run), type="text")
    document: bytes = etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return document.decode("utf-8")
