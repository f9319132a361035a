"""The PubMed XML parser: EFetch responses and baseline/update files, streamed into typed records.

``parse_pubmed_xml`` reads a ``PubmedArticleSet`` (also ``PubmedBookArticleSet`` and, best
effort, the legacy ``MedlineCitationSet``) with ``lxml.etree.iterparse`` and yields one frozen
:class:`PubmedArticle` per ``PubmedArticle`` / ``PubmedBookArticle`` / legacy
``MedlineCitation``, and one :class:`DeletedCitations` per ``DeleteCitation``. Each record's
element is cleared, and its preceding siblings deleted, as soon as it has been read, so memory
stays flat however large the file.

Why it looks the way it does:

- Speed (measured in ``tests/benchmarks/parse_bench.py``): iterparse reports only the record
  tags; each finished record is walked child by child (cheaper than ``find`` calls or XPath),
  recurring parts (qualifiers, headings, chemicals, publication types) are shared through a
  per-parse cache, and the hot records are built by a positional constructor that skips the
  frozen dataclass's ``object.__setattr__`` calls.
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
from typing import IO, Any, BinaryIO, TypeVar, cast

from lxml import etree

from ingest.errors import ParseError
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
    _new_article,
    _new_author,
    _new_heading,
)
from ingest.pubmed_text import element_date as _date
from ingest.pubmed_text import element_text as _text
from ingest.pubmed_text import pub_date as _pub_date
from kb.models import ArticleRecord

_T = TypeVar("_T")

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
    "parse_pubmed_bytes",
    "parse_pubmed_xml",
    "to_article_record",
]

# -- records -------------------------------------------------------------------------------


# -- public API ----------------------------------------------------------------------------

_RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation", "MedlineCitation")
_SET_TAGS = frozenset({"PubmedArticleSet", "PubmedBookArticleSet", "MedlineCitationSet"})
_GZIP_MAGIC = b"\x1f\x8b"
_GUNZIP_CHUNK = 1 << 18  # decompress in larger pieces than the 32 KiB lxml asks for: fewer Python calls
_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "dtd_validation": False,
    "remove_comments": True,
    "remove_pis": True,
    "collect_ids": False,
}


def parse_pubmed_xml(
    source: str | os.PathLike[str] | bytes | BinaryIO, *, source_name: str | None = None
) -> Iterator[PubmedArticle | DeletedCitations]:
    """Stream the records of a PubMed XML document.

    Args:
        source: a path (plain or gzip, recognised by its magic bytes), the document as bytes
            (plain or gzip), or a binary file object.
        source_name: the name used in error messages; defaults to the path, the file object's
            name, or ``<bytes>``.

    Yields:
        A :class:`PubmedArticle` per article, book article or legacy citation, and a
        :class:`DeletedCitations` per ``DeleteCitation``, in document order.

    Raises:
        ParseError: the document is malformed or truncated (raised when the parser reaches the
            fault: records yielded before it were complete, but the document as a whole is
            not), its gzip data is corrupt, or it is not a PubMed set (an HTML page, an
            ``<ERROR>`` document …). The message names the source and the position.
    """
    stream, name, closers = _open(source, source_name)
    try:
        yield from _iter_records(stream, name)
    finally:
        for close in closers:
            close()


def parse_pubmed_bytes(data: bytes, *, source_name: str = "response") -> list[PubmedArticle | DeletedCitations]:
    """Parse a whole PubMed XML document held in memory (e.g. an EFetch response body).

    All or nothing: a truncated or malformed body raises, even if some records were complete.

    Raises:
        ParseError: as :func:`parse_pubmed_xml`.
    """
    return list(parse_pubmed_xml(data, source_name=source_name))


def to_article_record(article: PubmedArticle) -> ArticleRecord:
    """The knowledge base's article row for a parsed PubMed article.

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
    return ArticleRecord(
        id=article.curie,
        pmid=article.pmid,
        doi=article.doi,
        pmcid=article.pmcid,
        title=article.title,
        journal=article.journal,
        year=article.pub_year,
        authors=authors,
        abstract=article.abstract,
        language=article.languages[0] if article.languages else None,
        publication_types=[name for _, name in article.publication_types],
        mesh_terms=[m.descriptor for m in article.mesh_headings],
        url=None,
        retracted=article.is_retracted,
    )


# -- input ---------------------------------------------------------------------------------


class _Reader:
    """A binary reader that first returns ``prefix`` (bytes already read to sniff the format)
    and keeps the first bytes it hands out, to say what a bad document was."""

    __slots__ = ("_prefix", "_read", "head")

    def __init__(self, read: Callable[[int], bytes], prefix: bytes = b"") -> None:
        self._read = read
        self._prefix = prefix
        self.head = b""

    def read(self, size: int = -1) -> bytes:
        if self._prefix:  # a short read is fine: lxml and gzip ask again
            chunk, self._prefix = self._prefix, b""
        else:
            chunk = self._read(size)
        if len(self.head) < 512:
            self.head += chunk[: 512 - len(self.head)]
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
        return _Reader(lambda size: unzipped.read(_GUNZIP_CHUNK)), name, closers
    return _Reader(raw.read, magic), name, closers


# -- the streaming loop --------------------------------------------------------------------


def _iter_records(stream: _Reader, name: str) -> Iterator[PubmedArticle | DeletedCitations]:
    events = etree.iterparse(stream, events=("end",), tag=_RECORD_TAGS, **_PARSER_OPTIONS)
    legacy: bool | None = None  # None until the root has been checked
    cache = _Cache()
    try:
        for _, elem in events:
            tag = elem.tag
            if legacy is None:
                root = elem.getroottree().getroot()
                if root.tag not in _SET_TAGS:
                    raise _not_pubmed(name, root)
                legacy = root.tag == "MedlineCitationSet"
            if tag == "PubmedArticle":
                record: PubmedArticle | DeletedCitations = _article(elem, name, cache)
            elif tag == "MedlineCitation":
                if not legacy:
                    continue  # the MedlineCitation of a PubmedArticle, read with it
                record = _citation(elem, None, name, cache)
            elif tag == "PubmedBookArticle":
                record = _book(elem, name, cache)
            else:
                record = DeletedCitations(tuple((p.text or "").strip() for p in elem.iterchildren("PMID")))
            # Free what has been read: this element's content, and finished siblings before it.
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
            yield record
    except etree.XMLSyntaxError as exc:
        raise _malformed(name, exc, stream.head) from exc
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ParseError(f"{name}: the gzip data is corrupt or truncated ({exc}); fetch or download it again") from exc
    if legacy is None:  # no record at all: an empty set is fine, anything else is not
        root = events.root
        if root is None or root.tag not in _SET_TAGS:
            raise _not_pubmed(name, root)


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


def _malformed(name: str, exc: etree.XMLSyntaxError, head: bytes) -> ParseError:
    line, column = exc.position if exc.position else (exc.lineno, exc.offset)
    message = re.sub(r"(, line \d+, column \d+)+$", "", exc.msg or str(exc))
    errors = exc.error_log.filter_from_errors() if exc.error_log else []
    if errors and (not line or "no element found" in message):
        # With resolve_entities=False lxml may report a generic "no element found" at line 0;
        # the last error libxml2 logged has the real cause and position.
        line, column, message = errors[-1].line, errors[-1].column, errors[-1].message
    lowered = head.lstrip().lower()
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


# -- records -------------------------------------------------------------------------------
#
# The hot path. Each finished record is walked once, child by child, into local variables;
# helpers are called per list, not per item. PCDATA fields (identifiers, names, codes) are
# taken as given, as NCBI never pads them; text that may carry markup goes through _text.
# Small immutable parts that recur across records (qualifiers, headings without qualifiers,
# chemicals, publication types) are shared through a per-parse cache: cheaper than building
# them again, and lighter for callers who keep many records.

_CACHE_LIMIT = 200_000


class _Cache(dict[tuple[Any, ...], Any]):
    """Recurring record parts, keyed on their raw values; emptied when it grows too large."""

    __slots__ = ()

    def share(self, key: tuple[Any, ...], make: Any) -> Any:
        value = self.get(key)
        if value is None:
            if len(self) > _CACHE_LIMIT:
                self.clear()
            value = self[key] = make(*key)
        return value


def _article(elem: Any, name: str, cache: _Cache) -> PubmedArticle:
    citation = data = None
    for child in elem:
        tag = child.tag
        if tag == "MedlineCitation":
            citation = child
        elif tag == "PubmedData":
            data = child
    if citation is None:
        raise ParseError(f"{name}: the PubmedArticle at line {elem.sourceline} has no MedlineCitation")
    return _citation(citation, data, name, cache)


def _citation(mc: Any, data: Any, name: str, cache: _Cache) -> PubmedArticle:
    """A MedlineCitation, with its PubmedData when there is one (not in legacy files)."""
    pmid = title = vernacular = abstract = copyright_ = journal = iso = issn = volume = issue = None
    pages = pub_date = date_revised = eloc_doi = eloc_pii = pub_year = None
    version = 1
    sections: tuple[AbstractSection, ...] = ()
    authors: tuple[Author, ...] = ()
    languages: list[str] = []
    article_dates: list[tuple[str, str]] = []
    publication_types: tuple[tuple[str | None, str], ...] = ()
    mesh: tuple[MeshHeading, ...] = ()
    chemicals: tuple[Chemical, ...] = ()
    keywords: list[str] = []
    comments: tuple[CommentCorrection, ...] = ()
    for child in mc:
        tag = child.tag
        if tag == "Article":
            for part in child:
                ptag = part.tag
                if ptag == "AuthorList":
                    if part.get("Type") != "editors":
                        authors += _authors(part)
                elif ptag == "Journal":
                    journal, iso, issn, volume, issue, pub_date, pub_year = _journal(part)
                elif ptag == "ArticleTitle":
                    title = _text(part)
                elif ptag == "Abstract":
                    abstract, sections, copyright_ = _abstract(part)
                elif ptag == "Language":
                    languages.append(part.text or "")
                elif ptag == "PublicationTypeList":
                    publication_types = tuple([cache.share((p.get("UI"), p.text or ""), _pair) for p in part])
                elif ptag == "Pagination":
                    pages = _pages(part)
                elif ptag == "ELocationID":
                    if part.get("ValidYN") != "N":
                        kind = part.get("EIdType")
                        if kind == "doi":
                            eloc_doi = eloc_doi or part.text
                        elif kind == "pii":
                            eloc_pii = eloc_pii or part.text
                elif ptag == "ArticleDate":
                    date = _date(part)
                    if date:
                        article_dates.append((part.get("DateType") or "Electronic", date))
                elif ptag == "VernacularTitle":
                    vernacular = _text(part)
        elif tag == "MeshHeadingList":
            mesh = _mesh(child, cache)
        elif tag == "PMID":
            pmid = child.text
            version = _version(child)
        elif tag == "DateRevised":
            date_revised = _date(child)
        elif tag == "ChemicalList":
            chemicals = tuple([_chemical(c, cache) for c in child])
        elif tag == "KeywordList":
            for k in child:
                text = _text(k)
                if text:
                    keywords.append(text)
        elif tag == "CommentsCorrectionsList":
            comments = _comments(child)
    if not pmid or not (pmid := pmid.strip()):
        raise ParseError(f"{name}: the MedlineCitation at line {mc.sourceline} has no PMID")
    doi = pmcid = pii = None
    history: tuple[tuple[str, str], ...] = ()
    references: tuple[str, ...] = ()
    if data is not None:
        doi, pmcid, pii, history, references = _pubmed_data(data)
    retracted = any(c.ref_type == "RetractionIn" for c in comments) or any(
        n == "Retracted Publication" for _, n in publication_types
    )
    return _new_article(
        pmid, version, False, mc.get("Status"), doi or eloc_doi, pmcid, pii or eloc_pii, title, vernacular,
        abstract, sections, copyright_, journal, iso, issn, volume, issue, pages, pub_year, pub_date,
        tuple(article_dates), history, date_revised, authors, tuple(languages), publication_types, mesh,
        chemicals, tuple(keywords), references, comments, retracted,
    )  # fmt: skip


def _pair(a: Any, b: Any) -> tuple[Any, Any]:
    return (a, b)


def _version(pmid: Any) -> int:
    version = pmid.get("Version")
    return int(version) if version and version.isdigit() else 1


def _journal(journal: Any) -> tuple[Any, ...]:
    """(title, ISO abbreviation, ISSN, volume, issue, pub_date, pub_year) of a Journal."""
    title = iso = issn = volume = issue = pub_date = pub_year = None
    for child in journal:
        tag = child.tag
        if tag == "JournalIssue":
            for part in child:
                ptag = part.tag
                if ptag == "Volume":
                    volume = part.text
                elif ptag == "Issue":
                    issue = part.text
                elif ptag == "PubDate":
                    pub_date, pub_year = _pub_date(part)
        elif tag == "Title":
            title = _text(child)
        elif tag == "ISOAbbreviation":
            iso = child.text
        elif tag == "ISSN":
            issn = child.text
    return title, iso, issn, volume, issue, pub_date, pub_year


def _pages(pagination: Any) -> str | None:
    start = end = None
    for child in pagination:
        tag = child.tag
        if tag == "MedlinePgn":
            if child.text:
                return str(child.text)
        elif tag == "StartPage":
            start = child.text
        elif tag == "EndPage":
            end = child.text
    return f"{start}-{end}" if start and end else start


def _abstract(abstract: Any) -> tuple[str | None, tuple[AbstractSection, ...], str | None]:
    """(abstract text, sections, copyright) of an Abstract."""
    sections = []
    blocks = []
    copyright_ = None
    for child in abstract:
        tag = child.tag
        if tag == "AbstractText":
            label = child.get("Label")
            text = _text(child) or ""
            sections.append(AbstractSection(label, child.get("NlmCategory"), text))
            block = f"{label}: {text}".rstrip() if label else text
            if block:
                blocks.append(block)
        elif tag == "CopyrightInformation":
            copyright_ = _text(child)
    return "\n\n".join(blocks) or None, tuple(sections), copyright_


def _authors(author_list: Any) -> tuple[Author, ...]:
    # One C iterator over each author's descendants. An Identifier after an AffiliationInfo
    # belongs to the affiliation (the DTD puts the author's own identifiers first); markup
    # inside names is read by _text, then skipped.
    authors = []
    for author in author_list.iterchildren("Author"):
        last = fore = initials = suffix = collective = None
        affiliations: list[str] = []
        identifiers: list[tuple[str, str]] = []
        in_affiliation = False
        for el in author.iter():
            tag = el.tag
            if tag == "LastName":
                last = el.text
            elif tag == "ForeName":
                fore = el.text
            elif tag == "Initials":
                initials = el.text
            elif tag == "Affiliation":
                if text := _text(el):
                    affiliations.append(text)
            elif tag == "AffiliationInfo":
                in_affiliation = True
            elif tag == "Identifier":
                if not in_affiliation:
                    identifiers.append((el.get("Source") or "", el.text or ""))
            elif tag == "CollectiveName":
                collective = _text(el)
            elif tag == "Suffix":
                suffix = _text(el)
        authors.append(
            _new_author(
                last, fore, initials, suffix, collective, tuple(affiliations), tuple(identifiers),
                author.get("ValidYN") != "N",
            )
        )  # fmt: skip
    return tuple(authors)


def _mesh(heading_list: Any, cache: _Cache) -> tuple[MeshHeading, ...]:
    # One C iterator over the names; a DescriptorName starts the next heading. The cache is
    # read inline: this runs ten times per record.
    get = cache.get
    headings = []
    descriptor: tuple[Any, ...] | None = None
    qualifiers: list[Qualifier] = []
    for el in heading_list.iter("DescriptorName", "QualifierName"):
        key = (el.get("UI"), el.text or "", el.get("MajorTopicYN") == "Y")
        if el.tag == "QualifierName":
            qualifiers.append(get(key) or cache.share(key, Qualifier))
            continue
        if descriptor is not None:
            headings.append(_heading(descriptor, qualifiers, get, cache))
            qualifiers = []
        descriptor = key
    if descriptor is not None:
        headings.append(_heading(descriptor, qualifiers, get, cache))
    return tuple(headings)


def _heading(descriptor: tuple[Any, ...], qualifiers: list[Qualifier], get: Any, cache: _Cache) -> MeshHeading:
    if qualifiers:
        return _new_heading(*descriptor, tuple(qualifiers))  # type: ignore[no-any-return]
    return get(descriptor) or cache.share(descriptor, MeshHeading)  # type: ignore[no-any-return]


def _chemical(chemical: Any, cache: _Cache) -> Chemical:
    number = ui = None
    substance = ""
    for child in chemical:
        tag = child.tag
        if tag == "RegistryNumber":
            number = child.text
        elif tag == "NameOfSubstance":
            ui = child.get("UI")
            substance = child.text or ""
    return cache.share((number, ui, substance), Chemical)  # type: ignore[no-any-return]


def _comments(comments_list: Any) -> tuple[CommentCorrection, ...]:
    out = []
    for comment in comments_list:
        pmid = source = None
        for child in comment:
            tag = child.tag
            if tag == "RefSource":
                source = _text(child)
            elif tag == "PMID":
                pmid = child.text
        out.append(CommentCorrection(comment.get("RefType") or "", pmid, source))
    return tuple(out)


def _pubmed_data(data: Any) -> tuple[Any, ...]:
    """(doi, pmcid, pii, history, reference PMIDs) of a PubmedData or PubmedBookData."""
    doi = pmcid = pii = None
    history: list[tuple[str, str]] = []
    references: list[str] = []
    for child in data:
        tag = child.tag
        if tag == "ArticleIdList":
            for aid in child:
                kind = aid.get("IdType")
                if kind == "doi":
                    doi = doi or aid.text
                elif kind == "pmc":
                    pmcid = pmcid or aid.text
                elif kind == "pii":
                    pii = pii or aid.text
        elif tag == "ReferenceList":
            _references(child, references)
        elif tag == "History":
            for pubdate in child:
                date = _date(pubdate)
                if date:
                    history.append((pubdate.get("PubStatus") or "", date))
    return doi, pmcid, pii, tuple(history), tuple(references)


def _references(reference_list: Any, out: list[str]) -> None:
    # iter() reaches nested ReferenceLists too; ArticleIds occur only in Reference/ArticleIdList.
    append = out.append
    for aid in reference_list.iter("ArticleId"):
        if aid.get("IdType", "pubmed") == "pubmed" and (text := aid.text):
            append(text.strip())


def _book(elem: Any, name: str, cache: _Cache) -> PubmedArticle:
    """A PubmedBookArticle: BookDocument and PubmedBookData."""
    document = data = None
    for child in elem:
        if child.tag == "BookDocument":
            document = child
        elif child.tag == "PubmedBookData":
            data = child
    if document is None:
        raise ParseError(f"{name}: the PubmedBookArticle at line {elem.sourceline} has no BookDocument")
    f: dict[str, Any] = {}
    languages: list[str] = []
    keywords: list[str] = []
    publication_types: list[tuple[str | None, str]] = []
    references: list[str] = []
    authors: tuple[Author, ...] = ()
    book_title = doi = None
    for child in document:
        tag = child.tag
        if tag == "PMID":
            f["pmid"] = (child.text or "").strip()
            f["pmid_version"] = _version(child)
        elif tag == "ArticleTitle":
            f["title"] = _text(child)
        elif tag == "Book":
            for part in child:
                ptag = part.tag
                if ptag == "BookTitle":
                    book_title = _text(part)
                elif ptag == "PubDate":
                    f["pub_date"], f["pub_year"] = _pub_date(part)
                elif ptag == "Volume":
                    f["volume"] = part.text
        elif tag == "ArticleIdList":
            for aid in child:
                if aid.get("IdType") == "doi":
                    doi = doi or aid.text
        elif tag == "AuthorList":
            if child.get("Type") != "editors":
                authors += _authors(child)
        elif tag == "Abstract":
            f["abstract"], f["abstract_sections"], f["copyright"] = _abstract(child)
        elif tag == "Language":
            languages.append(child.text or "")
        elif tag == "PublicationType":
            publication_types.append(cache.share((child.get("UI"), child.text or ""), _pair))
        elif tag == "KeywordList":
            keywords.extend(k for k in map(_text, child) if k)
        elif tag == "DateRevised":
            f["date_revised"] = _date(child)
        elif tag == "VernacularTitle":
            f["vernacular_title"] = _text(child)
        elif tag == "ReferenceList":
            _references(child, references)
    if not f.get("pmid"):
        raise ParseError(f"{name}: the PubmedBookArticle at line {elem.sourceline} has no PMID")
    if f.get("title"):
        f["journal"] = book_title  # a chapter: the book is its container
    else:
        f["title"] = book_title
    if data is not None:
        data_doi, f["pmcid"], f["pii"], f["history"], more = _pubmed_data(data)
        doi = doi or data_doi
        references.extend(more)
    return PubmedArticle(
        **f,
        is_book=True,
        doi=doi,
        authors=authors,
        languages=tuple(languages),
        keywords=tuple(keywords),
        publication_types=tuple(publication_types),
        references=tuple(references),
        is_retracted=any(n == "Retracted Publication" for _, n in publication_types),
    )
