"""A pre-filter on the raw bytes of a PubMed document: articles ruled out before lxml sees them.

In a topic run about 99 % of a bulk file's articles are irrelevant, and building an lxml tree
for each one (even one that is then thrown away unread) was most of the time a file took.
:class:`RawFilterReader` sits between the decompressed document and the parser: it cuts each
``<PubmedArticle>…</PubmedArticle>`` out of the byte stream and asks the caller's
``raw_select`` about its bytes; an article ruled out reaches the parser as an empty
:data:`SKIPPED_TAG` element followed by as many newlines as it had lines, so the parser still
counts it (it is yielded as a :class:`~ingest.pubmed_records.SkippedRecord`) and the line
numbers and record numbers of later errors are those of the file. Everything else (the
header, deletions, book articles, the articles kept) passes through unchanged.

What this gives up: an article ruled out on its bytes is not parsed, so a syntax error inside
it goes unnoticed (a truncated document, or an error anywhere in the bytes that pass, is still
found). A gzip file's CRC still guards its bytes against damage. Where the bytes cannot be cut
safely (a comment or CDATA section between or inside articles), the rest of the document
passes through unfiltered, to the element-level ``select``.
"""

from __future__ import annotations

from collections.abc import Callable

#: The element an article ruled out on its bytes is replaced by (not a PubMed element name).
SKIPPED_TAG = "KbSkippedArticle"

_START = b"<PubmedArticle>"
_END = b"</PubmedArticle>"
_PLACEHOLDER = f"<{SKIPPED_TAG}/>".encode()


def _unsafe(data: bytes) -> bool:
    """Whether a comment or CDATA section starts in ``data``."""
    at = data.find(b"<!")
    while at >= 0:
        if data.startswith((b"<!--", b"<!["), at):
            return True
        at = data.find(b"<!", at + 2)
    return False


class RawFilterReader:
    """A binary reader over ``read`` that replaces the articles ``raw_select`` rules out."""

    __slots__ = ("_buffer", "_eof", "_filtering", "_read", "_select", "skipped")

    def __init__(self, read: Callable[[int], bytes], raw_select: Callable[[bytes], bool]) -> None:
        self._read = read
        self._select = raw_select
        self._buffer = b""
        self._eof = False
        self._filtering = True
        self.skipped = 0  # articles replaced

    def read(self, size: int = -1) -> bytes:
        """At least one byte of the filtered document (more or fewer than ``size``), or b"" at its end."""
        while True:
            if not self._eof:
                block = self._read(size if size > 0 else 1 << 20)
                if block:
                    # A tag inside a comment or CDATA section is not a tag: from there on, pass all.
                    if self._filtering and _unsafe(self._buffer[-3:] + block):
                        self._filtering = False
                    self._buffer += block
                else:
                    self._eof = True
            out = self._filtered()
            if out or self._eof:
                return out

    def _filtered(self) -> bytes:
        """The filtered bytes of every whole article in the buffer, and what precedes them."""
        buffer = self._buffer
        if not self._filtering:
            self._buffer = b""
            return buffer
        parts: list[bytes] = []
        pos = 0
        while True:
            start = buffer.find(_START, pos)
            if start < 0:
                # Keep what could be the start of a tag cut by the block boundary.
                cut = len(buffer) if self._eof else max(pos, buffer.rfind(b"<", pos))
                parts.append(buffer[pos:cut])
                pos = cut
                break
            end = buffer.find(_END, start)
            if end < 0:  # the article is not complete yet (at the end: truncated, for the parser to say)
                parts.append(buffer[pos:start])
                pos = len(buffer) if self._eof else start
                if self._eof:
                    parts.append(buffer[start:])
                break
            end += len(_END)
            parts.append(buffer[pos:start])
            record = buffer[start:end]
            if self._select(record):
                parts.append(record)
            else:
                self.skipped += 1
                parts.append(_PLACEHOLDER + b"\n" * record.count(b"\n"))
            pos = end
        self._buffer = buffer[pos:]
        return b"".join(parts)
