"""Thai end to end, as a user runs it: a Thai Act (section labels on their own lines, as the Royal Gazette
prints them) ingested by the CLI beside an English file, Thai questions answered with the sentence that
answers, cited exactly, and a Thai question the documents do not answer abstained on in Thai."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citegraph.answers import ABSTAIN_TEXTS
from tests.integration.test_cli import check_citations, citegraph

pytestmark = pytest.mark.integration

# A made-up Act: "The Harbour Bridge Act B.E. 2560" with its sections (มาตรา) on lines of their own.
ACT = """พระราชบัญญัติสะพานท่าน้ำ พ.ศ. ๒๕๖๐

มาตรา ๑
พระราชบัญญัตินี้เรียกว่า พระราชบัญญัติสะพานท่าน้ำ พ.ศ. ๒๕๖๐
มาตรา ๒
พระราชบัญญัตินี้ให้ใช้บังคับเมื่อพ้นกำหนดหกสิบวันนับแต่วันประกาศในราชกิจจานุเบกษาเป็นต้นไป
มาตรา ๓
ค่าผ่านสะพานสำหรับรถยนต์ให้เรียกเก็บคันละยี่สิบบาท ส่วนรถจักรยานยนต์ให้เรียกเก็บคันละห้าบาท
มาตรา ๔
ให้กรมเจ้าท่าเป็นผู้ดูแลรักษาสะพานและท่าเทียบเรือทุกแห่งตามพระราชบัญญัตินี้
มาตรา ๕
ให้รัฐมนตรีว่าการกระทรวงคมนาคมรักษาการตามพระราชบัญญัตินี้
"""
LIGHTHOUSE = "The Gull Rock lighthouse was built in 1858. Marta Vance kept its lamp for forty years.\n"


@pytest.fixture(scope="module")
def thai_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = tmp_path_factory.mktemp("thai_docs")
    (docs / "harbour_bridge_act.txt").write_text(ACT, encoding="utf-8")
    (docs / "lighthouse.txt").write_text(LIGHTHOUSE, encoding="utf-8")
    store = docs.parent / "thai_store"
    done = citegraph("ingest", str(docs), "--json", store=store)
    assert done.returncode == 0, done.stderr
    return store


@pytest.mark.parametrize(
    ("question", "says"),
    [
        ("ค่าผ่านสะพานสำหรับรถยนต์เท่าไร", "ยี่สิบบาท"),  # How much is the toll for cars?
        ("ใครเป็นผู้ดูแลรักษาสะพานและท่าเทียบเรือ", "กรมเจ้าท่า"),  # Who maintains the bridges and piers?
    ],
)
def test_a_thai_question_gets_the_sentence_that_answers_it(
    thai_store: Path, question: str, says: str
) -> None:
    asked = citegraph("ask", question, "--json", store=thai_store)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert not answer["abstained"] and answer["verified"]
    assert says in answer["answer"]
    assert "มาตรา" not in answer["answer"]  # a section label is never (the start of) an answer
    check_citations(answer, thai_store)


def test_a_thai_question_the_documents_do_not_answer_is_declined_in_thai(thai_store: Path) -> None:
    # "Who was the first president of France?"
    answer = json.loads(citegraph("ask", "ประธานาธิบดีคนแรกของฝรั่งเศสคือใคร", "--json", store=thai_store).stdout)
    assert answer["abstained"] and answer["answer"] == ABSTAIN_TEXTS["th"]
    english = json.loads(
        citegraph("ask", "Who was the first president of France?", "--json", store=thai_store).stdout
    )
    assert english["abstained"] and english["answer"] == ABSTAIN_TEXTS["en"]


def test_thai_over_the_http_server(thai_store: Path, tmp_path: Path) -> None:
    """The same through the OpenAI-compatible API: the Thai answer with its citations, and a Thai decline."""
    from tests.integration.test_server import ServerProcess, openai_client

    server = ServerProcess(thai_store, tmp_path / "server.log").wait_ready()
    try:
        client = openai_client(server)
        asked = client.chat.completions.create(
            model="citegraph-rag", messages=[{"role": "user", "content": "ค่าผ่านสะพานสำหรับรถยนต์เท่าไร"}]
        )
        assert "ยี่สิบบาท" in asked.choices[0].message.content
        assert asked.model_extra["citations"][0]["source"].endswith("harbour_bridge_act.txt")
        declined = client.chat.completions.create(
            model="citegraph-rag", messages=[{"role": "user", "content": "ประธานาธิบดีคนแรกของฝรั่งเศสคือใคร"}]
        )
        assert declined.choices[0].message.content == ABSTAIN_TEXTS["th"]
        assert declined.model_extra["abstained"]
    finally:
        server.stop()
