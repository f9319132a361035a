"""Errors raised by the knowledge base. Every message says what went wrong and what to do."""


class KBError(Exception):
    """Base class for knowledge-base errors (configuration, vocabulary, storage)."""


class VocabularyError(KBError, LookupError):
    """A term is not in the topic's controlled vocabulary."""


class TopicError(KBError):
    """A topic pack is missing or invalid."""


class StoreError(KBError):
    """The database cannot be opened, migrated or written."""


class NotAKnowledgeBase(StoreError):
    """The database exists but holds no KB (an empty database, or another program's tables)."""


class UpgradeRequired(StoreError):
    """The KB was written by an older version; ``kb upgrade`` brings it to this version's schema."""


class NewerKnowledgeBase(StoreError):
    """The KB was written by a newer version of this package, whose schema this one does not know."""


class KBBusy(StoreError):
    """Another process held the KB (creating or upgrading its schema) for longer than we wait."""
