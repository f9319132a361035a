"""Record builders for the PubMed parser: one finished record element into one frozen record.

:mod:`ingest.pubmed` streams the document and hands each finished ``PubmedArticle``,
``PubmedBookArticle``, legacy ``MedlineCitation`` or ``DeleteCitation`` element to a
``build_*`` function here. This is the parser's hot path, written for speed (each trick is
measured in ``tests/benchmarks/parse_bench.py``):

- Each record is walked once, child by child, into local variables (cheaper than ``find``
  calls or XPath, whose set-up costs more than the walk); helpers are called per list, not
  per item. MeSH headings are read by one tag-filtered ``iter`` over the whole list, which
  skips the ``MeshHeading`` wrappers in C.
- PCDATA fields (identifiers, names, codes) are taken as given, as NCBI never pads them; text
  that may carry markup goes through :func:`~ingest.pubmed_text.element_text`.
- Small immutable parts that recur across records (MeSH headings with their qualifiers,
  chemicals, publication types) are shared through a per-parse :class:`PartsCache`: a dict
  look-up is cheaper than building them again, and lighter for callers who keep many records.
- Records are built by positional constructors about three times as fast as the frozen
  dataclasses' own ``__init__`` (see :mod:`ingest.pubmed_records`).

Attribute defaults come from the PubMed DTD, which is not loaded: they are applied here
(``MajorTopicYN`` "N", ``ArticleId/@IdType`` "pubmed", ``ValidYN`` "Y").
"""

from __future__ import annotations

from typing import Any

from ingest.errors import ParseError
from ingest.pubmed_records import (
    AbstractSection,
    Author,
    Chemical,
    CommentCorrection,
    DeletedCitations,
    MeshHeading,
    PubmedArticle,
    _new_abstract_section,
    _new_article,
    _new_author,
    _new_chemical,
    _new_comment,
    _new_heading,
    _new_qualifier,
)
from ingest.pubmed_text import element_date as _date
from ingest.pubmed_text import element_text as _text
from ingest.pubmed_text import pub_date as _pub_date

_CACHE_LIMIT = 200_000
_MESH_TAGS = ("DescriptorName", "QualifierName")


class PartsCache(dict[tuple[Any, ...], Any]):
    """Recurring record parts, keyed on their raw values; emptied when it grows too large.

    One per parse: records are frozen, so parts can be shared between them. The kinds of
    part cannot share a key: a publication type's is (UI, name), a chemical's (number, UI,
    name) and a MeSH heading's (UI, name, major: a bool, …).
    """

    __slots__ = ()

    def share(self, key: tuple[Any, ...], make: Any) -> Any:
        """The part for ``key``, made by ``make(*key)`` the first time."""
        value = self.get(key)
        if value is None:
            if len(self) > _CACHE_LIMIT:
                self.clear()
            value = self[key] = make(*key)
        return value


def build_article(elem: Any, name: str, cache: PartsCache) -> PubmedArticle:
    """A ``PubmedArticle``: its MedlineCitation and PubmedData.

    Raises:
        ParseError: the article has no MedlineCitation, or its citation has no PMID.
    """
    citation = data = None
    for child in elem:
        tag = child.tag
        if tag == "MedlineCitation":
            citation = child
        elif tag == "PubmedData":
            data = child
    if citation is None:
        raise ParseError(f"{name}: the PubmedArticle at line {elem.sourceline} has no MedlineCitation")
    return build_citation(citation, data, name, cache)


def build_deleted(elem: Any) -> DeletedCitations:
    """A ``DeleteCitation``: the PMIDs it withdraws."""
    return DeletedCitations(tuple((p.text or "").strip() for p in elem.iterchildren("PMID")))


def build_citation(mc: Any, data: Any, name: str, cache: PartsCache) -> PubmedArticle:
    """A MedlineCitation, with its PubmedData when there is one (not in legacy files).

    Raises:
        ParseError: the citation has no PMID.
    """
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


def build_book(elem: Any, name: str, cache: PartsCache) -> PubmedArticle:
    """A ``PubmedBookArticle``: BookDocument and PubmedBookData.

    Raises:
        ParseError: the book article has no BookDocument or no PMID.
    """
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


# -- parts ---------------------------------------------------------------------------------


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
            sections.append(_new_abstract_section(label, child.get("NlmCategory"), text))
            block = f"{label}: {text}".rstrip() if label else text
            if block:
                blocks.append(block)
        elif tag == "CopyrightInformation":
            copyright_ = _text(child)
    return "\n\n".join(blocks) or None, tuple(sections), copyright_


def _authors(author_list: Any) -> tuple[Author, ...]:
    # An author's fields are its children (markup inside a name is read by _text); the
    # Identifiers inside an AffiliationInfo are the affiliation's, not the author's.
    authors = []
    for author in author_list:
        if author.tag != "Author":
            continue
        last = fore = initials = suffix = collective = None
        affiliations: tuple[str, ...] = ()
        identifiers: tuple[tuple[str, str], ...] = ()
        for el in author:
            tag = el.tag
            if tag == "LastName":
                last = el.text
            elif tag == "ForeName":
                fore = el.text
            elif tag == "Initials":
                initials = el.text
            elif tag == "AffiliationInfo":
                for part in el:
                    if part.tag == "Affiliation" and (text := _text(part)):
                        affiliations += (text,)
            elif tag == "Identifier":
                identifiers += ((el.get("Source") or "", el.text or ""),)
            elif tag == "CollectiveName":
                collective = _text(el)
            elif tag == "Suffix":
                suffix = _text(el)
        authors.append(
            _new_author(
                last, fore, initials, suffix, collective, affiliations, identifiers, author.get("ValidYN") != "N"
            )
        )
    return tuple(authors)


def _mesh(heading_list: Any, cache: PartsCache) -> tuple[MeshHeading, ...]:
    # One tag-filtered iterator over the whole list. Each heading becomes one flat key: its
    # descriptor's (UI, name, major), then its qualifiers' in order. A heading seen before in
    # the parse ("Humans", "Female" …) costs one dict look-up, and builds nothing.
    rows: list[list[Any]] = []
    row: list[Any] = []  # filled only by a malformed list with qualifiers before any descriptor
    for el in heading_list.iter(_MESH_TAGS):
        if el.tag == "DescriptorName":
            row = [el.get("UI"), el.text or "", el.get("MajorTopicYN") == "Y"]
            rows.append(row)
        else:
            row += (el.get("UI"), el.text or "", el.get("MajorTopicYN") == "Y")
    get = cache.get
    return tuple([get(key := tuple(row)) or cache.share(key, _heading) for row in rows])


def _heading(ui: str | None, name: str, major: bool, *qualifiers: Any) -> MeshHeading:
    """A MeshHeading from its flat key (see _mesh)."""
    return _new_heading(  # type: ignore[no-any-return]
        ui, name, major, tuple([_new_qualifier(*qualifiers[i : i + 3]) for i in range(0, len(qualifiers), 3)])
    )


def _chemical(chemical: Any, cache: PartsCache) -> Chemical:
    number = ui = None
    substance = ""
    for child in chemical:
        tag = child.tag
        if tag == "RegistryNumber":
            number = child.text
        elif tag == "NameOfSubstance":
            ui = child.get("UI")
            substance = child.text or ""
    return cache.share((number, ui, substance), _new_chemical)  # type: ignore[no-any-return]


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
        out.append(_new_comment(comment.get("RefType") or "", pmid, source))
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
