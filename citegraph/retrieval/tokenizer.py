"""The BM25 tokenizer: one function for documents and queries alike.

Lower-case Unicode word tokens, English stop words out, Snowball (Porter2) stemming via PyStemmer.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(STOPWORDS_EN)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Words of ``text`` as BM25 terms: lower-cased, stop words dropped, stemmed."""
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS and w != "_"]
    return _stemmer().stemWords(words)
