"""Errors raised by the knowledge base. Every message says what went wrong and what to do."""


class KBError(Exception):
    """Base class for knowledge-base errors (configuration, vocabulary, storage)."""


class VocabularyError(KBError, LookupError):
    """A term is not in the topic's controlled vocabulary."""


class TopicError(KBError):
    """A topic pack is missing or invalid."""


class StoreError(KBError):
    """The database cannot be opened, migrated or written."""
