"""Bringing evidence in: PubMed through Entrez, parsing, extraction, curated records and the pipeline."""
