"""The BM25 tokenizer: one function for documents and queries alike.

Lower-case Unicode word tokens, English stop words out, Snowball (Porter2) stemming via PyStemmer.
Thai has no spaces between words, so runs of Thai script are split into dictionary words with
PyThaiNLP's ``newmm`` tokenizer (offline, bundled dictionary); Thai digits are read as ASCII digits so
"๒๕๓๗" and "2537" match. Measured on SciFact train queries (see benchmarks/retrieval_tokenizer.py):
stemming and stop-word removal each help BM25, together the most.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from citegraph.ingest.thai import has_thai

_WORD = re.compile(r"\w+", re.UNICODE)
_THAI_RUN = re.compile(r"([\u0e00-\u0e7f]+)")
_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_STOPWORDS = frozenset(STOPWORDS_EN)
# Thai function words that carry no topic (a short list: PyThaiNLP's full list drops too much for BM25).
_THAI_STOPWORDS = frozenset("และ หรือ ที่ ซึ่ง ของ ใน ให้ ได้ เป็น ไว้ จะ กับ แก่ โดย ว่า นี้ นั้น ก็ ไป มา".split())


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _thai_segmenter() -> Callable[[str], list[str]]:
    # Imported only when Thai text shows up: importing PyThaiNLP costs seconds.
    from pythainlp.tokenize import word_tokenize

    return lambda text: word_tokenize(text, engine="newmm", keep_whitespace=False)


def words(text: str) -> list[str]:
    """Lower-cased word tokens, Thai runs segmented into words, nothing removed or stemmed."""
    lowered = text.lower()
    if not has_thai(lowered):
        return [w for w in _WORD.findall(lowered) if w != "_"]
    segment = _thai_segmenter()
    out: list[str] = []
    # Split on Thai runs first: Thai vowel and tone marks are combining characters, which \w does not match.
    for i, part in enumerate(_THAI_RUN.split(lowered.translate(_THAI_DIGITS))):
        if i % 2:  # re.split with a capturing group puts the Thai runs at odd positions
            out.extend(w for w in segment(part) if w.strip() and not w.isspace())
        else:
            out.extend(w for w in _WORD.findall(part) if w != "_")
    return out


def make_tokenizer(stem: bool = True, stopwords: bool = True) -> Callable[[str], list[str]]:
    """A tokenizer with stemming and/or stop-word removal switched off (for measuring what each earns)."""

    def tokenize_with(text: str) -> list[str]:
        terms = words(text)
        if stopwords:
            terms = [w for w in terms if w not in _STOPWORDS and w not in _THAI_STOPWORDS]
        return _stemmer().stemWords(terms) if stem else terms

    return tokenize_with


_DEFAULT = make_tokenizer()


def tokenize(text: str) -> list[str]:
    """Words of ``text`` as BM25 terms: lower-cased, Thai segmented, stop words dropped, stemmed."""
    return _DEFAULT(text)


def stem(word: str) -> str:
    """The stem the tokenizer gives one lower-cased word."""
    return _stemmer().stemWord(word)
