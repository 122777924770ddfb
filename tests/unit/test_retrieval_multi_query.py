"""Multi-query: deterministic variants, PRF terms, a tolerant parser for model output, dedupe."""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from citegraph.retrieval.multi_query import (
    ExpansionConfig,
    Variant,
    dedupe_variants,
    expand_query,
    is_question,
    keyword_form,
    llm_paraphrases,
    parse_lines,
    prf_terms,
    sub_questions,
)


def test_keyword_form_keeps_content_words_in_order() -> None:
    assert keyword_form("What is the role of interleukin 6 in sepsis?") == "role interleukin 6 sepsis"
    assert keyword_form("sepsis") is None  # too short to be a different query
    assert keyword_form("interleukin sepsis") is None  # already a keyword query


def test_compound_questions_split_and_simple_ones_do_not() -> None:
    assert sub_questions("What is IL-6 and how does it affect sepsis mortality?") == [
        "What is IL-6",
        "how does it affect sepsis mortality?",
    ]
    assert sub_questions("Who built the bridge? When was the bridge opened?") == [
        "Who built the bridge?",
        "When was the bridge opened?",
    ]
    assert sub_questions("Do statins and aspirin reduce stroke risk?") == []  # "and" joins nouns here


def test_parser_tolerates_messy_model_output() -> None:
    reply = (
        "Sure! Here are 3 alternative versions:\n\n1. **What causes insulin resistance?**\n"
        '2) "Mechanisms behind insulin resistance"\n- what causes insulin resistance\n'
        "3. Query 3: insulin signalling defects\n```"
    )
    assert parse_lines(reply, 200) == [
        "What causes insulin resistance?",
        "Mechanisms behind insulin resistance",
        "insulin signalling defects",
    ]
    assert parse_lines('```json\n["a b c", "d e f", 7]\n```', 200) == ["a b c", "d e f", "7"]
    assert parse_lines("x" * 300, 200) == []  # over the length bound
    assert parse_lines("", 200) == []


def test_paraphrases_from_a_chat_model_and_from_a_failing_one() -> None:
    model = FakeListChatModel(responses=["1. first version of q\n2. second version of q\n3. third"])
    assert llm_paraphrases("q", model, 2, 200) == ["first version of q", "second version of q"]

    class Broken(FakeListChatModel):
        def invoke(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise TimeoutError

    assert llm_paraphrases("q", Broken(responses=["x"]), 2, 200) == []


def test_variants_are_deduplicated_and_the_original_comes_first() -> None:
    model = FakeListChatModel(
        responses=["What causes insulin resistance?\nINSULIN resistance causes!\nwhy insulin"]
    )
    variants = expand_query("What causes insulin resistance?", chat_model=model, config=ExpansionConfig())
    texts = [v.text for v in variants]
    assert texts[0] == "What causes insulin resistance?" and variants[0].weight == 1.0
    assert len({" ".join(t.lower().split()) for t in texts}) == len(texts)
    assert "What causes insulin resistance?" not in texts[1:]  # the model echoing the question adds nothing
    assert {v.kind for v in variants} == {"original", "keywords", "paraphrase"}
    keywords = next(v for v in variants if v.kind == "keywords")
    assert not keywords.bm25  # same BM25 terms as the original: searched densely only
    assert dedupe_variants([Variant("A b", "original", 1), Variant("a  B!", "paraphrase", 0.5)]) == [
        Variant("A b", "original", 1)
    ]


def test_prf_terms_favour_frequent_informative_terms_of_top_chunks() -> None:
    feedback = [
        "Insulin resistance in muscle involves GLUT4 translocation defects.",
        "GLUT4 translocation is impaired in obese subjects.",
    ]
    df = {
        "glut4": 5,
        "translocation": 8,
        "muscl": 400,
        "obes": 300,
        "impair": 500,
        "involv": 900,
        "defect": 50,
    }
    terms = prf_terms(["insulin", "resist"], feedback, lambda ts: {t: df.get(t, 1) for t in ts}, 1000, 3)
    assert [t for t, _ in terms][:2] == ["glut4", "transloc"] or terms[0][0] == "glut4"
    assert terms[0][1] == 1.0 and all(0 < w <= 1 for _, w in terms)
    assert all(t not in {"insulin", "resist"} for t, _ in terms)
    assert prf_terms(["a"], [], lambda ts: {}, 10) == []


def test_statements_get_no_keyword_form_unless_asked() -> None:
    assert is_question("Who saved nine sailors?") and is_question("does aspirin prevent stroke")
    assert not is_question("There is no association between HNF4A mutations and diabetes risks.")
    claim = "Statins reduce the risk of hip fractures in older women."
    assert [v.kind for v in expand_query(claim)] == ["original"]
    every = expand_query(claim, config=ExpansionConfig(keywords_for_questions_only=False))
    assert [v.kind for v in every] == ["original", "keywords"]
    asked = expand_query("What reduces the risk of hip fractures in older women?")
    assert [v.kind for v in asked] == ["original", "keywords"]
