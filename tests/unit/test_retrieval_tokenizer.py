"""The shared BM25 tokenizer: English stemming and stop words, Thai word segmentation."""

from __future__ import annotations

from citegraph.ingest.thai import has_thai
from citegraph.retrieval.tokenizer import make_tokenizer, tokenize, words


def test_english_is_lowercased_stemmed_and_stripped_of_stop_words() -> None:
    assert tokenize("The Studies of running MICE!") == ["studi", "run", "mice"]
    assert tokenize("studies") == tokenize("study")  # queries and documents meet on the stem


def test_switches_for_measuring_stemming_and_stop_words() -> None:
    assert make_tokenizer(stem=False, stopwords=False)("The mice are running") == [
        "the",
        "mice",
        "are",
        "running",
    ]
    assert make_tokenizer(stem=False, stopwords=True)("The mice are running") == ["mice", "running"]
    assert make_tokenizer(stem=True, stopwords=False)("The mice are running") == ["the", "mice", "are", "run"]


def test_thai_runs_are_split_into_dictionary_words() -> None:
    terms = tokenize("พระราชบัญญัติลิขสิทธิ์")
    assert terms == ["พระราชบัญญัติ", "ลิขสิทธิ์"]  # one unbroken run of script becomes two words
    assert "ลิขสิทธิ์" in tokenize("การละเมิดลิขสิทธิ์ในงานอันมีลิขสิทธิ์")
    assert has_thai("abc ไทย") and not has_thai("abc")


def test_thai_digits_match_arabic_digits_and_mixed_text_keeps_both_scripts() -> None:
    assert "2537" in tokenize("พ.ศ. ๒๕๓๗")
    mixed = words("Copyright Actพระราชบัญญัติ 2537")
    assert mixed[:2] == ["copyright", "act"] and "พระราชบัญญัติ" in mixed and mixed[-1] == "2537"
