"""Shared machinery for finding extractors: article text, sentences, vocabulary lookup,
cue lexicons, output labels and evaluation against gold annotations.

Extractors themselves live in :mod:`ingest.extractors`; everything here is pure (no I/O
apart from :mod:`ingest.extraction.corpus`, which reads and writes JSON lines).
"""
