"""Bringing PubMed records into the store: from seeds, saved queries and files, with citation
expansion and provenance.

Every article remembers how it was found (:class:`kb.models.ArticleSource`): a seed, a saved
query, the references of another article, a paper citing another, or a file. Citations are
recorded with how they are known (the record's own reference list, or an ELink link name).
Identifiers NCBI does not return are recorded as :class:`kb.models.MissingRecord`, never
retried forever; PubMed deletions (``DeleteCitation``) are applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ingest.entrez import DateType, EntrezClient, LinkName
from ingest.errors import ParseError
from ingest.pubmed import (
    DeletedCitations,
    PubmedArticle,
    PubmedRecord,
    RefusedRecord,
    parse_pubmed_xml,
    to_article_record,
)
from kb.models import ArticleSource, Citation, MissingRecord
from kb.store import Changes, Store

_SAVE_BATCH = 500


@dataclass
class FetchReport:
    """What a fetch or ingest did."""

    articles: Changes = field(default_factory=Changes)
    citations: Changes = field(default_factory=Changes)
    sources: Changes = field(default_factory=Changes)
    deleted: Changes = field(default_factory=Changes)
    kept_despite_deletion: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    searched: list[tuple[str, str, int]] = field(default_factory=list)
    levels: dict[str, int] = field(default_factory=dict)
    #: PMIDs of every article returned by EFetch (the articles to re-extract).
    fetched: set[str] = field(default_factory=set)
    #: Seeds and query results that EFetch did not return.
    start_missing: list[str] = field(default_factory=list)
    #: Records refused by the parser (an identifier not of its shape), one message each; never stored.
    refused: list[str] = field(default_factory=list)
    #: Files that failed part-way (``kb ingest``): file name → what happened and what was kept
    #: (not in :meth:`lines`: the command shows them as errors).
    failed_files: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """A human summary, one line per fact."""
        a = self.articles
        out = [
            f"articles: {a.added} new, {a.updated} updated, {a.unchanged} unchanged",
            f"citations: {self.citations.added} new; provenance records: {self.sources.added} new",
        ]
        for name, count in self.levels.items():
            out.append(f"{name}: {count} articles")
        if self.searched:
            out.append("searched windows: " + ", ".join(f"{lo}–{hi} ({n})" for lo, hi, n in self.searched))
        if self.deleted.removed or self.kept_despite_deletion:
            out.append(f"deleted by PubMed: {self.deleted.removed} removed")
        if self.kept_despite_deletion:
            out.append(
                "kept although PubMed deleted them (curated findings cite them): "
                + ", ".join(self.kept_despite_deletion)
            )
        if self.missing:
            out.append(
                f"not returned by NCBI (recorded as missing): {', '.join(self.missing[:20])}"
                + (" …" if len(self.missing) > 20 else "")
            )
        if self.refused:
            out.append(f"records refused (not stored): {len(self.refused)}")
            out.extend(f"  {message}" for message in self.refused[:20])
            if len(self.refused) > 20:
                out.append(f"  … and {len(self.refused) - 20} more")
        return out


class _Saver:
    """Saves fetched records and their provenance in batches."""

    def __init__(self, store: Store, topic_id: str, report: FetchReport) -> None:
        self.store = store
        self.topic_id = topic_id
        self.report = report

    def articles(self, articles: Sequence[PubmedArticle]) -> None:
        for start in range(0, len(articles), _SAVE_BATCH):
            batch = articles[start : start + _SAVE_BATCH]
            self.report.articles += self.store.save_articles([to_article_record(a) for a in batch])
            self.report.citations += self.store.save_citations(
                Citation(citing_id=a.curie, cited_id=f"pubmed:{ref}", source="reference_list")
                for a in batch
                for ref in dict.fromkeys(a.references)
            )
        self.store.clear_missing(a.curie for a in articles)
        self.report.fetched.update(a.pmid for a in articles)

    def sources(self, sources: Iterable[ArticleSource]) -> None:
        self.report.sources += self.store.save_article_sources(list(sources))

    def missing(self, pmids: Iterable[str], reason: str, detail: str) -> None:
        rows = [MissingRecord(id=f"pubmed:{p}", reason=reason, detail=detail) for p in pmids]
        if rows:
            self.store.save_missing(rows)
            self.report.missing.extend(r.id for r in rows)


def fetch_into_store(
    client: EntrezClient,
    store: Store,
    topic_id: str,
    *,
    pmids: Sequence[str] = (),
    query: str | None = None,
    query_name: str | None = None,
    query_pmids: Sequence[str] = (),
    since: date | None = None,
    until: date | None = None,
    datetype: DateType = "edat",
    refs_depth: int = 0,
    cited_by_depth: int = 0,
) -> FetchReport:
    """Fetch seeds and/or a query's results, then follow references and citing papers.

    Args:
        client: the Entrez client (online, or offline replaying the raw cache).
        store: where records go.
        topic_id: the topic the articles are gathered for (recorded in their provenance).
        pmids: seed PMIDs.
        query: a PubMed query; ``since``/``until`` bound its ``datetype`` dates.
        query_name: the saved query's name, recorded as provenance (default: the query text).
        query_pmids: results of ``query_name`` already searched for (by the refresh job).
        refs_depth: levels of references to follow from the seeds and query results.
        cited_by_depth: levels of citing papers to follow.

    Raises:
        FetchError: NCBI could not be reached after every retry (what was saved stays saved).
        StoreError: the database rejected a write.
    """
    report = FetchReport()
    saver = _Saver(store, topic_id, report)
    start: dict[str, list[ArticleSource]] = {}
    for pmid in pmids:
        pmid = str(pmid).removeprefix("pubmed:")
        start.setdefault(pmid, []).append(ArticleSource(article_id=f"pubmed:{pmid}", topic_id=topic_id, kind="seed"))
    found_pmids = list(query_pmids)
    if query:
        found = client.search(query, mindate=since, maxdate=until, datetype=datetype)
        report.searched.extend(found.windows)
        found_pmids.extend(found.pmids)
    for pmid in found_pmids:
        detail = query_name or query or ""
        start.setdefault(pmid, []).append(
            ArticleSource(article_id=f"pubmed:{pmid}", topic_id=topic_id, kind="query", detail=detail)
        )
    present = _fetch_level(client, saver, start, "start")
    report.levels["seeds and query results"] = len(present)
    report.start_missing = sorted(set(start) - present, key=int)

    for linkname, depth, kind in (
        ("pubmed_pubmed_refs", refs_depth, "references"),
        ("pubmed_pubmed_citedin", cited_by_depth, "cited_by"),
    ):
        frontier = sorted(present, key=int)
        for level in range(1, depth + 1):
            if not frontier:
                break
            frontier = _expand(client, saver, frontier, linkname, kind, level, topic_id)  # type: ignore[arg-type]
            report.levels[f"{kind.replace('_', ' ')} level {level}"] = len(frontier)
    return report


def _fetch_level(client: EntrezClient, saver: _Saver, wanted: dict[str, list[ArticleSource]], detail: str) -> set[str]:
    """Fetch ``wanted`` PMIDs, save them with their provenance; return the PMIDs now present."""
    if not wanted:
        return set()
    result = client.fetch(wanted)
    saver.report.refused.extend(result.refused)
    saver.articles(result.articles)
    got = {a.pmid for a in result.articles}
    saver.sources(s for pmid in sorted(got, key=int) for s in wanted[pmid])
    saver.missing(result.missing, "not_returned", f"efetch ({detail})")
    if result.deleted:
        changes, kept = saver.store.delete_articles(f"pubmed:{p}" for p in result.deleted)
        saver.report.deleted += changes
        saver.report.kept_despite_deletion.extend(kept)
        saver.missing(result.deleted, "deleted", f"efetch ({detail})")
    return got


def _expand(
    client: EntrezClient,
    saver: _Saver,
    frontier: list[str],
    linkname: LinkName,
    kind: str,
    level: int,
    topic_id: str,
    *,
    skip_known: bool = False,
) -> list[str]:
    """Follow one level of links; fetch what they point to; return the next frontier.

    With ``skip_known``, linked articles already in the KB are not fetched again.
    """
    links = client.links(frontier, linkname)
    citations = []
    wanted: dict[str, list[ArticleSource]] = {}
    for source_pmid, targets in links.links.items():
        for target in targets:
            citing, cited = (source_pmid, target) if kind == "references" else (target, source_pmid)
            citations.append(Citation(citing_id=f"pubmed:{citing}", cited_id=f"pubmed:{cited}", source=linkname))
            wanted.setdefault(target, []).append(
                ArticleSource(
                    article_id=f"pubmed:{target}",
                    topic_id=topic_id,
                    kind=kind,
                    detail=f"pubmed:{source_pmid}",
                    depth=level,
                )
            )
    saver.report.citations += saver.store.save_citations(citations)
    if links.missing:
        saver.missing(links.missing, "no_links", f"elink {linkname}")
    already = saver.store.known_articles(f"pubmed:{p}" for p in wanted) if skip_known else set()
    if already:
        saver.sources(s for pmid in sorted(wanted, key=int) if f"pubmed:{pmid}" in already for s in wanted[pmid])
    to_fetch = {p: s for p, s in wanted.items() if f"pubmed:{p}" not in already}
    present = _fetch_level(client, saver, to_fetch, f"{kind} level {level}")
    return sorted(present | {c.removeprefix("pubmed:") for c in already}, key=int)


def recheck_cited_by(
    client: EntrezClient, store: Store, topic_id: str, pmids: Sequence[str], depth: int
) -> FetchReport:
    """Ask ELink again which papers cite ``pmids``; fetch the citing papers the KB lacks.

    Citing papers already stored are not fetched again; their new citation links and
    provenance are recorded. Levels beyond the first follow the citers of the citers.

    Raises:
        FetchError: NCBI could not be reached after every retry (what was saved stays saved).
        StoreError: the database rejected a write.
    """
    report = FetchReport()
    saver = _Saver(store, topic_id, report)
    frontier = sorted({str(p).removeprefix("pubmed:") for p in pmids}, key=int)
    for level in range(1, depth + 1):
        if not frontier:
            break
        frontier = _expand(
            client, saver, frontier, "pubmed_pubmed_citedin", "cited_by", level, topic_id, skip_known=True
        )
        report.levels[f"cited by level {level}"] = len(frontier)
    return report


def ingest_files(store: Store, paths: Sequence[Path], topic_id: str) -> FetchReport:
    """Load PubMed XML files (baseline/update files or saved EFetch output), streaming.

    ``DeleteCitation`` entries are applied after each file's records are saved. Records the
    parser refuses are counted in ``refused`` and not stored. A file that fails part-way (a
    malformed or truncated document) is reported in ``failed_files``, with how many of its
    records were stored, and the next file is read: records are saved in batches as they
    come, and an upsert of the same record changes nothing, so re-running is safe.

    Raises:
        StoreError: the database rejected a write.
    """
    report = FetchReport()
    saver = _Saver(store, topic_id, report)
    for path in paths:
        deletions: list[str] = []

        def save(chunk: list[PubmedRecord], name: str = path.name, deletions: list[str] = deletions) -> int:
            articles = [r for r in chunk if isinstance(r, PubmedArticle)]
            deletions.extend(p for r in chunk if isinstance(r, DeletedCitations) for p in r.pmids)
            report.refused.extend(r.message for r in chunk if isinstance(r, RefusedRecord))
            saver.articles(articles)
            saver.sources(
                ArticleSource(article_id=a.curie, topic_id=topic_id, kind="file", detail=name) for a in articles
            )
            return len(articles)

        count = 0
        pending: list[PubmedRecord] = []
        fault: ParseError | None = None
        try:
            for record in parse_pubmed_xml(path, source_name=str(path)):
                pending.append(record)
                if len(pending) == _SAVE_BATCH:
                    count += save(pending)
                    pending = []
        except ParseError as exc:
            fault = exc
        count += save(pending)  # the records read before a fault are complete: keep them
        report.levels[path.name] = count
        if fault is not None:
            report.failed_files[path.name] = (
                f"{fault}. Stored from it before the error (committed): {count} records; its "
                "DeleteCitation entries were not applied; the file is marked failed. Re-running "
                "'kb ingest' on it is safe (records are upserted, nothing is duplicated)"
            )
            continue
        if deletions:
            changes, kept = store.delete_articles(f"pubmed:{p}" for p in deletions)
            report.deleted += changes
            report.kept_despite_deletion.extend(kept)
            store.save_missing(MissingRecord(id=f"pubmed:{p}", reason="deleted", detail=path.name) for p in deletions)
    return report
