"""Errors raised while bringing evidence in. Messages say what went wrong and what to do."""


class IngestError(Exception):
    """Base class for ingest errors (topic packs, curated records, pipeline)."""


class FetchError(IngestError):
    """A request to NCBI failed after every retry."""


class ParseError(IngestError):
    """A response or file could not be parsed; the message names the source and position."""
