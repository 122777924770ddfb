"""The query normalizer: cleaning, bad queries, language detection, spelling correction, LLM rewrite."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from citegraph.retrieval.query import (
    QueryError,
    correct_spelling,
    detect_language,
    normalize_query,
    normalize_question,
)


def test_unicode_controls_and_whitespace_are_cleaned() -> None:
    # Full-width letters and the "ﬁ" ligature fold under NFKC; zero-width and control characters go.
    assert normalize_question("  ｗｈａｔ\u200b is\t\tthe ﬁrst\x00 step?\n", 100) == "what is the first step?"


@pytest.mark.parametrize("bad", ["", "   ", "\u200b\u200b", "\x00\x01"])
def test_empty_questions_are_refused(bad: str) -> None:
    with pytest.raises(QueryError, match="empty"):
        normalize_question(bad, 100)


def test_oversized_and_non_text_questions_are_refused() -> None:
    with pytest.raises(QueryError, match="limit is 20"):
        normalize_question("x" * 21, 20)
    assert normalize_question("x" * 20, 20) == "x" * 20
    with pytest.raises(QueryError, match="must be text"):
        normalize_question(None, 20)  # type: ignore[arg-type]


def test_a_query_without_letters_or_digits_cannot_be_searched() -> None:
    with pytest.raises(QueryError, match="no letters"):
        normalize_query("?!? ...", 100)
    assert normalize_query("2537", 100).original == "2537"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("What causes insulin resistance?", "en"),
        ("พระราชบัญญัติลิขสิทธิ์ คืออะไร", "th"),
        ("ลิขสิทธิ์ software คืออะไร", "th"),
        ("Что такое авторское право?", "other"),
        ("1234 ...", "unknown"),
    ],
)
def test_language_detection(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_spelling_correction_uses_the_corpus_vocabulary_and_leaves_known_words() -> None:
    vocab = {"insulin", "resistance", "diabetes"}
    assert correct_spelling("insulinn resistence in diabetes", vocab) == "insulin resistance in diabetes"
    assert correct_spelling("quantum insulin", vocab) == "quantum insulin"  # nothing close: unchanged
    query = normalize_query("Insullin resistance", 100, vocabulary={"insulin", "resist"})
    assert query.original == "Insullin resistance" and query.corrected == "insulin resistance"
    assert query.variants == ["Insullin resistance", "insulin resistance"]  # the original survives


def test_llm_rewrite_is_added_and_a_broken_model_changes_nothing() -> None:
    model = FakeListChatModel(responses=['Rewritten: "mechanisms of insulin resistance"'])
    query = normalize_query("why insulin resistance", 100, chat_model=model)
    assert query.variants[0] == "why insulin resistance"
    assert query.rewritten == "mechanisms of insulin resistance"

    class Broken(FakeListChatModel):
        def invoke(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("model down")

    broken = normalize_query("why insulin resistance", 100, chat_model=Broken(responses=["x"]))
    assert broken.rewritten is None and broken.variants == ["why insulin resistance"]
