"""The shapes of the article identifiers the KB accepts: PMIDs, DOIs and PMC ids.

They are checked where records enter (the PubMed parser refuses a record whose identifiers
do not fit) and again where they leave as links (:mod:`queries.links`), so a hostile value
such as a PMID ``1](javascript:alert(1))[x`` is never stored, and never becomes a link if an
older KB holds one.
"""

from __future__ import annotations

import re

#: A PMID: a positive whole number, digits only (ASCII), no leading zero.
PMID_PATTERN = re.compile(r"[1-9][0-9]{0,9}")
#: A DOI: ``10.`` + a numeric registrant code (dots allowed) + ``/`` + a suffix of printable
#: characters without spaces (suffixes may hold brackets and parentheses: SICI DOIs do).
DOI_PATTERN = re.compile(r"10\.[0-9]{4,9}(?:\.[0-9]+)*/[!-~]+")
#: A PubMed Central id: ``PMC`` + digits, optionally with a version (``PMC3706072.1``).
PMCID_PATTERN = re.compile(r"PMC[0-9]{1,10}(?:\.[0-9]{1,3})?")


def is_pmid(value: object) -> bool:
    """Whether ``value`` is a PMID as PubMed writes it (``38535057``)."""
    return isinstance(value, str) and PMID_PATTERN.fullmatch(value) is not None


def is_doi(value: object) -> bool:
    """Whether ``value`` has the shape of a DOI (``10.1002/art.1234``)."""
    return isinstance(value, str) and DOI_PATTERN.fullmatch(value) is not None


def is_pmcid(value: object) -> bool:
    """Whether ``value`` has the shape of a PubMed Central id (``PMC1234567``)."""
    return isinstance(value, str) and PMCID_PATTERN.fullmatch(value) is not None


def shown(value: str, limit: int = 60) -> str:
    """``value`` quoted for a message, shortened to ``limit`` characters."""
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


def article_id_problem(pmid: str | None, doi: str | None = None, pmcid: str | None = None) -> str | None:
    """What is wrong with an article's identifiers, or None when they fit their shapes."""
    if pmid is not None and not is_pmid(pmid):
        return f"its PMID {shown(pmid)} is not a PMID (digits only)"
    if doi is not None and not is_doi(doi):
        return f"its DOI {shown(doi)} is not a DOI (10.NNNN/…, no spaces)"
    if pmcid is not None and not is_pmcid(pmcid):
        return f"its PMC id {shown(pmcid)} is not a PMC id (PMC and digits)"
    return None
