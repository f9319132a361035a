"""The PubMed XML parser: EFetch responses and baseline/update files, streamed into typed records.

``parse_pubmed_xml`` reads a ``PubmedArticleSet`` (also ``PubmedBookArticleSet`` and, best
effort, the legacy ``MedlineCitationSet``) with an ``lxml`` pull parser fed 1 MiB at a time,
and yields one frozen :class:`PubmedArticle` per ``PubmedArticle`` / ``PubmedBookArticle`` /
legacy ``MedlineCitation``, and one :class:`DeletedCitations` per ``DeleteCitation``. The
records are the root's children: each is read as soon as it is complete, then deleted, so
memory stays flat however large the file. :mod:`ingest.pubmed_build` turns a record's element
into its record.

Why it looks the way it does:

- Speed (measured in ``tests/benchmarks/parse_bench.py``): the parser reports one event, the
  root's start, rather than the end of each record (see ``_iter_records``); each record is
  walked child by child, recurring parts are shared and records are built by fast
  constructors (see :mod:`ingest.pubmed_build`).
- Inline markup (``<i>``, ``<sup>``, MathML …) becomes plain text: tags dropped, whitespace
  folded. A MathML formula becomes its tokens joined without spaces (``V.O2max``), because the
  spaces between MathML tags are layout, not text. ``Bio.Entrez.read`` keeps the markup as
  text; after removing the tags and folding whitespace the two agree.
- Hostile input: no DTD is loaded and nothing is fetched (``load_dtd=False``,
  ``no_network=True``), entities are never expanded (``resolve_entities=False``); an entity
  reference stays in the text as ``&name;`` unless it is a standard HTML character name (the
  PubMed DTD's MathML character entities), which becomes that character.
- Attribute defaults come from the PubMed DTD, which is not loaded: they are applied here
  (``MajorTopicYN`` "N", ``ArticleId/@IdType`` "pubmed", ``ValidYN`` "Y").
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any, BinaryIO, cast

from lxml import etree

from ingest.errors import ParseError
from ingest.pubmed_build import PartsCache, build_article, build_book, build_citation, build_deleted
from ingest.pubmed_raw import SKIPPED_TAG, RawFilterReader
from ingest.pubmed_records import (
    AbstractSection,
    Author,
    Chemical,
    CommentCorrection,
    DeletedCitations,
    MeshHeading,
    PubmedArticle,
    PubmedRecord,
    Qualifier,
    RefusedRecord,
    SkippedRecord,
)
from ingest.pubmed_text import element_text as _text
from kb.identifiers import article_id_problem, is_pmid, shown
from kb.models import ArticleRecord

__all__ = [
    "AbstractSection",
    "Author",
    "Chemical",
    "CommentCorrection",
    "DeletedCitations",
    "MeshHeading",
    "PubmedArticle",
    "PubmedRecord",
    "Qualifier",
    "RefusedRecord",
    "SkippedRecord",
    "article_fields",
    "parse_pubmed_bytes",
    "parse_pubmed_xml",
    "to_article_record",
]

# -- public API ----------------------------------------------------------------------------

_SET_TAGS = ("PubmedArticleSet", "PubmedBookArticleSet", "MedlineCitationSet")
_GZIP_MAGIC = b"\x1f\x8b"
# The document is read and fed to the parser 1 MiB at a time: measured 3% faster than 64 KiB
# (5% on a .xml.gz). The tree never holds much more than that much XML: peak memory is about
# 10 MB higher than with 64 KiB, and as flat.
_READ_SIZE = 1 << 20
# No collect_ids=False: it makes libxml2 load the external DTD subset (from disk, or refused
# by no_network) in a pull parser, and it did not change the speed.
_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "dtd_validation": False,
    "remove_comments": True,
    "remove_pis": True,
}


def parse_pubmed_xml(
    source: str | os.PathLike[str] | bytes | BinaryIO,
    *,
    source_name: str | None = None,
    select: Callable[[Any], bool] | None = None,
    raw_select: Callable[[bytes], bool] | None = None,
) -> Iterator[PubmedRecord]:
    """Stream the records of a PubMed XML document.

    Args:
        source: a path (plain or gzip, recognised by its magic bytes), the document as bytes
            (plain or gzip), or a binary file object.
        source_name: the name used in error messages; defaults to the path, the file object's
            name, or ``<bytes>``.
        select: called with each ``PubmedArticle`` element before it is built; an article it
            returns False for is yielded as a :class:`SkippedRecord` instead, unbuilt (a
            relevance pre-filter: building the record is most of the time a record takes).
        raw_select: called with the bytes of each ``<PubmedArticle>…</PubmedArticle>`` before
            the parser reads them; an article it returns False for is yielded as a
            :class:`SkippedRecord` without ever being parsed (see :mod:`ingest.pubmed_raw`:
            a syntax error inside it then goes unnoticed).

    Yields:
        A :class:`PubmedArticle` per article, book article or legacy citation, and a
        :class:`DeletedCitations` per ``DeleteCitation``, in document order; a
        :class:`RefusedRecord` in place of a record with an identifier that is missing or
        not of its shape (the caller counts it and stores nothing of it).

    Raises:
        ParseError: the document is malformed or truncated (raised when the parser reaches the
            fault: records yielded before it were complete, though the one just before the
            fault may not be among them, and the document as a whole is not), its gzip data
            is corrupt, or it is not a PubMed set (an HTML page, an ``<ERROR>`` document …),
            or a record exceeds one of libxml2's limits (a text field over 10 MB: the message
            says which record; the rest of the document is not read). The message names the
            source and the position.
    """
    stream, name, closers = _open(source, source_name)
    if raw_select is not None:
        stream = _Reader(RawFilterReader(stream.read, raw_select).read, head=stream)
    try:
        yield from _iter_records(stream, name, select, SKIPPED_TAG if raw_select is not None else None)
    finally:
        for close in closers:
            close()


def parse_pubmed_bytes(data: bytes, *, source_name: str = "response") -> list[PubmedRecord]:
    """Parse a whole PubMed XML document held in memory (e.g. an EFetch response body).

    All or nothing: a truncated or malformed body raises, even if some records were complete.

    Raises:
        ParseError: as :func:`parse_pubmed_xml`.
    """
    return list(parse_pubmed_xml(data, source_name=source_name))


def to_article_record(article: PubmedArticle) -> ArticleRecord:
    """The knowledge base's article row for a parsed PubMed article (see :func:`article_fields`)."""
    return ArticleRecord(**article_fields(article))


def article_fields(article: PubmedArticle) -> dict[str, Any]:
    """The fields of a parsed PubMed article's row in the KB (:class:`kb.models.ArticleRecord`).

    Authors become "Family Initials" (group authors as named); names PubMed flags as
    erroneous (``ValidYN="N"``) are left out, as PubMed itself does.
    """
    authors: list[str] = []
    for a in article.authors:
        if not a.valid:
            continue
        if a.last_name:
            authors.append(f"{a.last_name} {a.initials}" if a.initials else a.last_name)
        elif a.collective_name:
            authors.append(a.collective_name)
    return {
        "id": article.curie,
        "pmid": article.pmid,
        "doi": article.doi,
        "pmcid": article.pmcid,
        "title": article.title,
        "journal": article.journal,
        "year": article.pub_year,
        "authors": authors,
        "abstract": article.abstract,
        "language": article.languages[0] if article.languages else None,
        "publication_types": [name for _, name in article.publication_types],
        "mesh_terms": [m.descriptor for m in article.mesh_headings],
        "url": None,
        "retracted": article.is_retracted,
        "notices": notices(article),
    }


#: CommentsCorrections types that are notices about the article itself (not comments on it).
NOTICE_TYPES: frozenset[str] = frozenset(
    {
        "RetractionIn",
        "ErratumIn",
        "ExpressionOfConcernIn",
        "CorrectedandRepublishedIn",
        "RetractedandRepublishedIn",
        "RepublishedIn",
        "UpdateIn",
    }
)


def notices(article: PubmedArticle) -> list[str]:
    """The article's notices (:data:`NOTICE_TYPES`) as ``"RefType pubmed:PMID"``, sorted.

    A notice without a PMID is named by its citation (``"ErratumIn Lancet. 2020;395:1820"``).
    """
    found = {
        f"{c.ref_type} pubmed:{c.pmid}" if c.pmid else f"{c.ref_type} {(c.ref_source or '').strip()}".strip()
        for c in article.comments_corrections
        if c.ref_type in NOTICE_TYPES
    }
    return sorted(found)


# -- input ---------------------------------------------------------------------------------


class _Reader:
    """A binary reader that first returns ``prefix`` (bytes already read to sniff the format)
    and keeps the first bytes it hands out, to say what a bad document was."""

    __slots__ = ("_head", "_head_of", "_prefix", "_read")

    def __init__(self, read: Callable[[int], bytes], prefix: bytes = b"", head: _Reader | None = None) -> None:
        self._read = read
        self._prefix = prefix
        self._head = b""
        self._head_of = head  # the reader whose first bytes to report (under a filter: the document's)

    @property
    def head(self) -> bytes:
        """The first bytes read (up to 512)."""
        return self._head if self._head_of is None else self._head_of.head

    def read(self, size: int = -1) -> bytes:
        if self._prefix:  # a short read is fine: the parse loop and gzip ask again
            chunk, self._prefix = self._prefix, b""
        else:
            chunk = self._read(size)
        if len(self._head) < 512:
            self._head += chunk[: 512 - len(self._head)]
        return chunk


def _open(
    source: str | os.PathLike[str] | bytes | BinaryIO, source_name: str | None
) -> tuple[_Reader, str, list[Callable[[], None]]]:
    """A reader of the decompressed document, its name, and what to close afterwards (in order)."""
    closers: list[Callable[[], None]] = []
    raw: IO[bytes]
    if isinstance(source, bytes | bytearray | memoryview):
        name = source_name or "<bytes>"
        data = bytes(source)
        if data[:2] == _GZIP_MAGIC:
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as exc:
                raise ParseError(f"{name}: the gzip data is corrupt or truncated ({exc}); fetch it again") from exc
        return _Reader(io.BytesIO(data).read), name, closers
    if isinstance(source, str | os.PathLike):
        name = source_name or os.fspath(source)
        raw = open(source, "rb")  # noqa: SIM115 - closed by parse_pubmed_xml
        closers.append(raw.close)
    else:
        name = source_name or str(getattr(source, "name", "<stream>"))
        raw = source
    magic = b""
    while len(magic) < 2 and (more := raw.read(2 - len(magic))):
        magic += more
    if magic == _GZIP_MAGIC:
        unzipped = gzip.GzipFile(fileobj=cast(IO[bytes], _Reader(raw.read, magic)), mode="rb")
        return _Reader(unzipped.read), name, closers
    return _Reader(raw.read, magic), name, closers


# -- the streaming loop --------------------------------------------------------------------


def _iter_records(
    stream: _Reader, name: str, select: Callable[[Any], bool] | None = None, skipped: str | None = None
) -> Iterator[PubmedRecord]:
    # Not iterparse: asking lxml for "end" events (even filtered by tag) runs a handler at the
    # end of every element, which cost 6% of the time per record (141 against 132 µs here).
    # The one event asked for here is the root's start; the records are the root's children,
    # and after each chunk every child but the last is complete.
    parser = etree.XMLPullParser(events=("start",), tag=_SET_TAGS, **_PARSER_OPTIONS)
    cache = PartsCache()
    done = _Count()
    root = document = None
    fault: ParseError | None = None
    cause: Exception | None = None
    syntax: etree.XMLSyntaxError | None = None
    try:
        while chunk := stream.read(_READ_SIZE):
            parser.feed(chunk)
            root = _found_root(parser, root)
            if root is not None:
                yield from _finished_records(root, name, cache, done, keep_last=True, select=select, skipped=skipped)
        document = parser.close()
    except etree.XMLSyntaxError as exc:
        syntax = cause = exc
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        fault = ParseError(f"{name}: the gzip data is corrupt or truncated ({exc}); fetch or download it again")
        cause = exc
    root = _found_root(parser, root)  # its start may be in the chunk that failed
    if syntax is not None:
        # The record the fault is in: the root's last child (the ones before it are finished).
        fault = _malformed(name, syntax, stream.head, done.n + max(1, len(root)) if root is not None else None)
    if root is None:
        raise (fault or _not_pubmed(name, document)) from cause
    # The records left. After a fault the last child is left out: it may be unfinished (and
    # nothing tells whether the fault came after its end tag).
    yield from _finished_records(root, name, cache, done, keep_last=fault is not None, select=select, skipped=skipped)
    if fault:
        raise fault from cause


def _found_root(parser: Any, root: Any) -> Any:
    """The root once the parser has reported its start (it reports PubMed sets only), else None."""
    for _, elem in parser.read_events():
        if root is None and elem.getparent() is None:  # not a set nested in a foreign root
            root = elem
    return root


class _Count:
    """How many of the root's children have been read (to number records in messages)."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


def _finished_records(
    root: Any,
    name: str,
    cache: PartsCache,
    done: _Count,
    *,
    keep_last: bool,
    select: Callable[[Any], bool] | None,
    skipped: str | None = None,
) -> Iterator[PubmedRecord]:
    """Read the root's children (all, or all but the last), deleting each, which frees it."""
    legacy = root.tag == "MedlineCitationSet"
    for _ in range(len(root) - keep_last):
        elem = root[0]
        tag = elem.tag
        done.n += 1
        record: PubmedRecord | None
        try:
            if tag == skipped:  # ruled out on its bytes (raw_select): never parsed
                del root[0]
                yield SkippedRecord(name, done.n)
                continue
            if tag == "PubmedArticle" and select is not None and not select(elem):
                del root[0]
                yield SkippedRecord(name, done.n)
                continue
            if tag == "PubmedArticle":
                record = build_article(elem, name, cache)
            elif tag == "PubmedBookArticle":
                record = build_book(elem, name, cache)
            elif tag == "DeleteCitation":
                record = build_deleted(elem)
            elif tag == "MedlineCitation" and legacy:
                record = build_citation(elem, None, name, cache)
            else:
                record = None  # not a record: an entity reference between records …
            problem = _id_problem(record) if record is not None else None
        except ParseError as exc:  # a record without a PMID, or without its citation
            problem = str(exc).removeprefix(f"{name}: ")
        if problem is not None:
            pmid = record.pmid if isinstance(record, PubmedArticle) else None
            record = RefusedRecord(name, done.n, elem.sourceline, problem, pmid)
        del root[0]
        if record is not None:
            yield record


def _id_problem(record: PubmedRecord) -> str | None:
    """Why a record's identifiers refuse it (see :class:`RefusedRecord`), or None."""
    if isinstance(record, PubmedArticle):
        problem = article_id_problem(record.pmid, record.doi, record.pmcid)
        if problem is not None:
            return problem
        refs = record.references
        joined = "".join(refs)
        # The fast test: all digits, and none empty or starting with 0 ("" in "0" holds too).
        if refs and (not (joined.isascii() and joined.isdigit()) or any(r[:1] in "0" for r in refs)):
            bad = next(r for r in refs if not is_pmid(r))
            return f"it cites {shown(bad)}, which is not a PMID (digits only)"
        for comment in record.comments_corrections:
            if comment.pmid is not None and not is_pmid(comment.pmid):
                return f"its {comment.ref_type or 'comment'} link names {shown(comment.pmid)}, which is not a PMID"
    elif isinstance(record, DeletedCitations):
        for pmid in record.pmids:
            if not is_pmid(pmid):
                return f"it deletes {shown(pmid)}, which is not a PMID (digits only)"
    return None


def _not_pubmed(name: str, root: Any) -> ParseError:
    if root is None:
        return ParseError(f"{name}: the document is empty; expected a PubmedArticleSet")
    found = root.tag if isinstance(root.tag, str) else "?"
    detail = ""
    error = _text(root.find(".//ERROR"))
    if error:
        detail = f": NCBI says {error}"
    elif found.lower() == "html":
        detail = " (an HTML page, e.g. an error page or a proxy's login page)"
    return ParseError(
        f"{name}: expected a PubmedArticleSet, found <{found}> at line {root.sourceline}{detail}; "
        "check the request (an EFetch of db=pubmed with retmode=xml) and fetch again"
    )


#: libxml2's resource limits (XML_ERR_RESOURCE_LIMIT), recognised by their messages, and what
#: each means for a record. They are kept (no huge_tree): lifting them lifts the guard against
#: documents built to exhaust memory too.
_LIMITS = (
    ("text node too long", "a text field exceeds 10 MB (libxml2's limit)"),
    ("huge text node", "a text field exceeds 10 MB (libxml2's limit)"),
    ("excessive depth", "its elements are nested deeper than libxml2's limit (256)"),
    ("name too long", "an element or attribute name exceeds libxml2's limit"),
    ("attribute value too long", "an attribute value exceeds libxml2's limit (10 MB)"),
)


def _malformed(name: str, exc: etree.XMLSyntaxError, head: bytes, record: int | None = None) -> ParseError:
    line, column = exc.position if exc.position else (exc.lineno, exc.offset)
    message = re.sub(r"(, line \d+, column \d+)+$", "", exc.msg or str(exc))
    errors = exc.error_log.filter_from_errors() if exc.error_log else []
    if errors and (not line or "no element found" in message):
        # With resolve_entities=False lxml may report a generic "no element found" at line 0;
        # the last error libxml2 logged has the real cause and position.
        line, column, message = errors[-1].line, errors[-1].column, errors[-1].message
    lowered = head.lstrip().lower()
    limit = next((what for key, what in _LIMITS if key in message.lower()), None)
    if limit is not None:
        which = f"record {record}" if record is not None else "a record"
        before = f"records before it read: {record - 1}; " if record is not None else ""
        return ParseError(
            f"{name}: {which} refused: {limit}, at line {line}; {before}the rest of the file was not read. "
            "PubMed's own records stay far below this limit: check where the file came from"
        )
    if not head.strip():
        return ParseError(f"{name}: the document is empty; expected a PubmedArticleSet — fetch it again")
    if "amplification" in message or "entity reference loop" in message.lower():
        # libxml2 counts entity expansion even when entities are not substituted, and stops a
        # "billion laughs" document; the position it gives is inside the entity's text.
        return ParseError(
            f"{name}: refused — its entities would expand without bound (a 'billion laughs' document): "
            f"{message} (at line {line}, column {column} of an entity's text); this is not a PubMed file"
        )
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:512]:
        return ParseError(
            f"{name}: an HTML page, not PubMed XML (malformed at line {line}, column {column}: {message}); "
            "check the request and fetch again"
        )
    return ParseError(
        f"{name}: XML is malformed at line {line}, column {column}: {message}; "
        "the file may be truncated — fetch or download it again"
    )
