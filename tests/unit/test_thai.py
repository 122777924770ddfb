"""Thai: sentences from PyThaiNLP with exact spans, chunks cut between words, answers chosen by the
question's terms when the judge cannot read the language, and messages in the question's language."""

from __future__ import annotations

from pythainlp.tokenize import word_tokenize

from citegraph.agents.answerer import extractive_answer
from citegraph.answers import ABSTAIN_TEXTS, UNVERIFIED_TEXTS, abstention, says_documents_do_not_answer
from citegraph.ingest.chunking import chunk_spans, sentence_spans
from citegraph.models.judge import lexical
from citegraph.retrieval.store import Hit

# Three sentences about a (made-up) bridge: who built it, when it opened, how long it is.
BRIDGE = (
    "สะพานข้ามแม่น้ำสายนี้สร้างโดยบริษัทช่างไม้แห่งเชียงใหม่ "
    "สะพานเปิดใช้งานเมื่อปี พ.ศ. 2498 หลังจากก่อสร้างนานสามปี "
    "ความยาวของสะพานคือหนึ่งร้อยยี่สิบเมตร"
)


def _word_bounds(text: str) -> set[int]:
    bounds, at = {0}, 0
    for word in word_tokenize(text, engine="newmm", keep_whitespace=True):
        at += len(word)
        bounds.add(at)
    return bounds


def test_thai_sentences_are_exact_spans_and_an_abbreviation_ends_none() -> None:
    spans = sentence_spans(BRIDGE)
    assert len(spans) >= 2
    assert all(BRIDGE[a:b] == BRIDGE[a:b].strip() and BRIDGE[a:b] for a, b in spans)
    # "พ.ศ." (Buddhist Era) is an abbreviation: the year stays in the sentence that names it.
    assert any("พ.ศ. 2498" in BRIDGE[a:b] for a, b in spans)


def test_section_labels_and_numbered_sections_start_their_own_sentences() -> None:
    act = "มาตรา ๒\nพระราชบัญญัตินี้ให้ใช้บังคับตั้งแต่วันถัดจากวันประกาศ\nมาตรา ๓ ค่าผ่านสะพานให้เรียกเก็บคันละยี่สิบบาท\n"
    sentences = [act[a:b] for a, b in sentence_spans(act)]
    assert sentences[0] == "มาตรา ๒"  # a label alone on its line is a sentence of its own (never an answer)
    assert sentences[1] == "พระราชบัญญัตินี้ให้ใช้บังคับตั้งแต่วันถัดจากวันประกาศ"
    assert sentences[2].startswith("มาตรา ๓")


def test_a_title_set_one_word_per_line_is_read_whole() -> None:
    from citegraph.ingest.loaders import _first_line_title

    assert (
        _first_line_title("\nพระราชบัญญัติ\nลิขสิทธิ์\nพ.ศ.\n๒๕๓๗\n\nมาตรา ๑ ...", "x")
        == "พระราชบัญญัติ ลิขสิทธิ์ พ.ศ. ๒๕๓๗"
    )
    assert _first_line_title("Introduction\n\nThis paper describes a system.", "x") == "Introduction"
    assert _first_line_title("Title.\n\nBody", "x") == "Title"


def test_chunks_of_unspaced_thai_end_between_words() -> None:
    text = ("สะพานข้ามแม่น้ำสายนี้สร้างโดยบริษัทช่างไม้แห่งเชียงใหม่" * 20) + "."
    spans = chunk_spans(text, size=120, overlap=0)
    assert all(b - a <= 120 for a, b in spans)
    bounds = _word_bounds(text)
    assert all(a in bounds and b in bounds for a, b in spans)


def test_an_unbroken_run_is_never_cut_before_a_combining_mark() -> None:
    text = "กิ" * 300  # KO KAI + SARA I (a combining vowel), no word breaks the dictionary knows
    for a, b in chunk_spans(text, size=101, overlap=0):
        assert text[a:b][0] != "ิ"  # no piece starts with a vowel sign orphaned from its consonant


def _hits(*texts: str) -> list[Hit]:
    return [
        Hit(f"c{i}", t, f"s{i}", f"doc{i}.txt", f"doc{i}", 0, len(t), None, 1.0) for i, t in enumerate(texts)
    ]


class _Store:
    """What the answer step needs of a store: BM25 document frequencies, a size, a source lookup."""

    def bm25_document_frequency(self, terms: list[str]) -> dict[str, int]:
        return {}

    def __len__(self) -> int:
        return 10

    def source(self, source_id: str) -> None:
        return None


def test_coverage_weighs_rare_question_terms_and_skips_question_words() -> None:
    assert "เท่าไร" not in lexical.question_terms("สะพานยาวเท่าไร")
    weights = lexical.term_weights(["สะพาน", "ยาว"], {"สะพาน": 9}, 10)
    assert weights["ยาว"] > weights["สะพาน"]
    assert lexical.coverage(weights, "สะพานยาวมาก") == 1.0
    assert 0 < lexical.coverage(weights, "สะพานนี้สวย") < 0.5


def test_a_thai_question_is_answered_by_the_sentence_holding_its_terms(tiny_judge) -> None:
    assert not tiny_judge.reads("สะพานเปิดใช้งานเมื่อปีใด") and tiny_judge.reads("When did the bridge open?")
    answer = extractive_answer("สะพานเปิดใช้งานเมื่อปีใด", _hits(BRIDGE), _Store(), tiny_judge)
    assert not answer["abstained"]
    assert "2498" in answer["answer"] and "[1]" in answer["answer"]
    assert all(c["quote"] in BRIDGE for c in answer["citations"])


def test_a_thai_question_the_passages_do_not_answer_abstains_in_thai(tiny_judge) -> None:
    answer = extractive_answer("ประธานาธิบดีคนแรกของฝรั่งเศสชื่ออะไร", _hits(BRIDGE), _Store(), tiny_judge)
    assert answer["abstained"] and answer["answer"] == ABSTAIN_TEXTS["th"]


def test_messages_follow_the_question_language() -> None:
    assert abstention("Where was she born?")["answer"] == ABSTAIN_TEXTS["en"]
    assert abstention("เธอเกิดที่ไหน")["answer"] == ABSTAIN_TEXTS["th"]
    assert abstention("เธอเกิดที่ไหน", UNVERIFIED_TEXTS)["answer"] == UNVERIFIED_TEXTS["th"]
    assert abstention("Где она родилась?")["answer"] == ABSTAIN_TEXTS["en"]  # no Russian text: English
    assert all(says_documents_do_not_answer(text) for text in ABSTAIN_TEXTS.values())
    assert not says_documents_do_not_answer("สะพานยาวหนึ่งร้อยยี่สิบเมตร [1]")
