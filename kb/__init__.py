"""The treatment-outcome evidence knowledge base: tables, store, vocabularies and graph.

``kb`` imports nothing from ``ingest`` or ``queries``: evidence flows in through
``ingest`` and is read back out through ``queries``.
"""

__version__ = "0.1.0"
