"""Ingestion: loaders (txt, md, pdf, html), chunking with exact spans, the atomic ingest pipeline."""
