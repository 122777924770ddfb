"""Retrieval: the hybrid store (Chroma + BM25 under one manifest) and search."""
