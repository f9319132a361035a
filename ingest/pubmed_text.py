"""Text and dates from PubMed XML elements: inline markup reduced to clean text.

Used by the parser's hot path (:mod:`ingest.pubmed_build`), so each function is written for speed:
a few C-level string scans instead of regular expressions where it matters.

- Inline markup (``<i>``, ``<sup>``, MathML …) becomes plain text: tags dropped, whitespace
  folded. A MathML formula becomes its tokens joined without spaces (``V.O2max``), because the
  spaces between MathML tags are layout, not text.
- An entity reference (never expanded by the parser) stays as ``&name;`` unless it is a
  standard HTML character name, which becomes that character.
"""

from __future__ import annotations

import html.entities
import re
from typing import Any

from lxml import etree

_MATHML = "{http://www.w3.org/1998/Math/MathML}"
_HTML_ENTITIES = html.entities.html5
_Entity = etree.Entity


def element_text(el: Any) -> str | None:
    """An element's text content as one clean line, or None when empty."""
    if el is None:
        return None
    text = mixed_text(el) if len(el) else el.text
    if not text:
        return None
    # Most texts need no folding, and C scans are much cheaper than a split and join. Most
    # are ASCII (an O(1) check), where the only whitespace XML allows besides the space is a
    # tab, newline or carriage return (libxml2 rejects the other control characters, even as
    # character references): three memchr scans, a third cheaper in all than isprintable,
    # which other texts need (it is False for every other Unicode space, e.g. no-break).
    if "  " in text or ("\n" in text or "\t" in text or "\r" in text if text.isascii() else not text.isprintable()):
        return " ".join(text.split()) or None
    return text.strip() or None


def mixed_text(el: Any) -> str:
    """Text of an element with inline markup (``<i>``, ``<sup>``, MathML, entity references)."""
    parts = [el.text or ""]
    for child in el:
        tag = child.tag
        if tag is _Entity:
            parts.append(_HTML_ENTITIES.get(child.name + ";", child.text))
        elif isinstance(tag, str):
            if tag == "math" or tag.startswith(_MATHML):
                parts.append(math_text(child))
            elif len(child):
                parts.append(mixed_text(child))
            else:
                parts.append(child.text or "")
        parts.append(child.tail or "")
    return "".join(parts)


def math_text(el: Any) -> str:
    """A MathML formula as its tokens joined: layout whitespace dropped, annotations skipped."""
    tag = el.tag
    if tag is _Entity:
        return str(_HTML_ENTITIES.get(el.name + ";", el.text))
    if not isinstance(tag, str) or tag.endswith(("annotation", "annotation-xml")):
        return ""
    parts = [(el.text or "").strip()]
    for child in el:
        parts.append(math_text(child))
        parts.append((child.tail or "").strip())
    return "".join(parts)


_MONTHS = {
    m: f"{i:02d}"
    for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_YEAR = re.compile(r"\d{4}")


def element_date(el: Any) -> str | None:
    """A Year/Month/Day element as "YYYY-MM-DD" (or shorter when parts are missing)."""
    # Fast path: in History, ArticleDate and DateRevised (five per record) the DTD puts Year,
    # Month and Day first, and NCBI writes them as numbers (History without zero padding).
    # Padding by concatenation: a format spec (f"{month:0>2}") is parsed on every call.
    try:
        year, month, day = el[0].text, el[1].text, el[2].text
        if len(year) == 4 and month.isdigit() and day.isdigit():
            if len(month) == 1:
                month = "0" + month
            if len(day) == 1:
                day = "0" + day
            return f"{year}-{month}-{day}"
    except (IndexError, TypeError):
        pass
    parts = {child.tag: (child.text or "").strip() for child in el}
    year, month, day = parts.get("Year"), parts.get("Month"), parts.get("Day")
    if not year:
        return None
    if not month:
        return year
    month = _MONTHS.get(month[:3].lower(), month.zfill(2))
    return f"{year}-{month}-{day.zfill(2)}" if day else f"{year}-{month}"


def pub_date(el: Any) -> tuple[str | None, int | None]:
    """PubDate as given ("2024 Mar 18", "1998 Dec-1999 Jan") and its year."""
    parts = []
    year: int | None = None
    for child in el:
        text = (child.text or "").strip()
        if not text:
            continue
        if child.tag == "Year" and text.isdigit():
            year = int(text)
        elif child.tag == "MedlineDate" and year is None:
            found = _YEAR.search(text)
            year = int(found.group()) if found else None
        parts.append(text)
    return (" ".join(parts) or None), year
