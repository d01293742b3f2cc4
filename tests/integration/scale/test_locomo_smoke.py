"""`benchmarks/locomo.py` runs the LoCoMo protocol end to end on a tiny slice."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "locomo.py"

SESSIONS = [
    (
        "1:56 pm on 8 May, 2023",
        [
            ("Ana", "Hey Bo! I went to a pottery class yesterday, it was so calming."),
            ("Bo", "Nice! I ran a charity race for mental health last Saturday."),
            ("Ana", "Amazing. My sister Marta just moved to Valparaiso."),
            ("Bo", "Chile! That is far. Do you plan to visit?"),
            ("Ana", "Yes, in December, I already booked the flights."),
        ],
    ),
    (
        "10:00 am on 20 June, 2023",
        [
            ("Bo", "I adopted a kitten called Miso last week."),
            ("Ana", "So cute! I painted a sunset over the lake."),
            ("Bo", "You should sell your paintings."),
            ("Ana", "Maybe one day. I am training for a half marathon now."),
        ],
    ),
    (
        "4:20 pm on 2 August, 2023",
        [
            (speaker, f"Small talk number {i} about the weather.")
            for i, speaker in enumerate(["Ana", "Bo"] * 30)
        ],
    ),
]
QA = [
    {
        "question": "Where did Ana's sister move?",
        "answer": "Valparaiso",
        "evidence": ["D1:3"],
        "category": 4,
    },
    {
        "question": "When did Bo run a charity race?",
        "answer": "6 May 2023",
        "evidence": ["D1:2"],
        "category": 2,
    },
    {
        "question": "What pets and hobbies came up?",
        "answer": "kitten, pottery",
        "evidence": ["D2:1", "D:1:1"],
        "category": 1,
    },
    {"question": "Is this adversarial?", "answer": "n/a", "evidence": ["D1:1"], "category": 5},
]


def locomo_file(path: Path) -> Path:
    conversation: dict[str, Any] = {"speaker_a": "Ana", "speaker_b": "Bo"}
    for number, (date, turns) in enumerate(SESSIONS, start=1):
        conversation[f"session_{number}_date_time"] = date
        conversation[f"session_{number}"] = [
            {"speaker": speaker, "dia_id": f"D{number}:{i}", "text": text}
            for i, (speaker, text) in enumerate(turns, start=1)
        ]
    path.write_text(json.dumps([{"sample_id": "tiny-0", "conversation": conversation, "qa": QA}]))
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("locomo")
    out = folder / "locomo.json"
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--data",
            str(locomo_file(folder / "tiny.json")),
            "--budgets",
            "400,1000",
            "--conversations",
            "1",
            "--questions",
            "3",
            "--json",
            str(out),
            "--package-timing",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert time.monotonic() - started < 60
    assert "| system | B | category |" in done.stdout
    assert "budget violations: 0" in done.stdout
    results: dict[str, Any] = json.loads(out.read_text())
    return results


@pytest.mark.slow
def test_the_json_holds_every_system_budget_and_category(report: dict[str, Any]) -> None:
    assert report["conversations"] == ["tiny-0"]
    assert report["budgets"] == [400, 1000]
    names = list(report["systems"])
    assert names[0].startswith("memorygraph (")
    assert names[1:] == ["sliding window", "bm25", "bm25+neighbours"]
    for budgets in report["systems"].values():
        assert list(budgets) == ["400", "1000"]
        for data in budgets.values():
            overall = data["overall"]
            assert overall["qa"] == 3  # the adversarial question is left out
            assert overall["violations"] == 0
            assert overall["max_tokens"] <= 1000
            for key in ("evr", "ansr", "median_ms", "p95_ms", "median_total_ms", "p95_total_ms"):
                assert key in overall
            assert set(data["by_category"]) == {"multi-hop", "temporal", "single-hop"}


@pytest.mark.slow
def test_the_json_holds_the_package_composition_and_timing(report: dict[str, Any]) -> None:
    memorygraph = next(iter(report["systems"].values()))
    kinds = memorygraph["1000"]["overall"]["mean_tokens_by_kind"]
    assert kinds["request"] > 0 and kinds["recalled"] > 0 and "fact" in kinds
    assert report["systems"]["bm25"]["1000"]["overall"]["mean_tokens_by_kind"] == {}
    assert list(report["package_timing"]) == ["tiny-0 B=400", "tiny-0 B=1000"]
    for timed in report["package_timing"].values():
        assert timed["questions"] == 3
        assert timed["archived_turns"] > 0
        assert set(timed) >= {"recall_median_ms", "build_package_median_ms", "both_median_ms"}


@pytest.mark.slow
def test_memorygraph_recalls_the_folded_evidence(report: dict[str, Any]) -> None:
    memorygraph = next(iter(report["systems"].values()))
    assert memorygraph["1000"]["by_category"]["single-hop"]["evr"] == 1.0
    assert report["systems"]["sliding window"]["400"]["by_category"]["single-hop"]["evr"] == 0.0


def test_the_protocol_scoring() -> None:
    sys.path.insert(0, str(BENCH.parent))
    try:
        import locomo
    finally:
        sys.path.remove(str(BENCH.parent))
    context = locomo.Context("[recalled]\n> Ana: My sister Marta just moved to Valparaiso!")
    assert locomo.evidence_recall(context, ["My sister Marta just moved to Valparaiso."]) == 1.0
    assert locomo.evidence_recall(context, ["Marta moved to Lima with her cat yesterday."]) == 0.0
    assert locomo.evidence_recall(context, ["Valparaiso"]) == 1.0
    assert locomo.evidence_recall(context, ["Valpar"]) == 0.0  # short turns match whole words
    assert locomo.answer_recall(context, "The Valparaiso", 4) == 1.0
    assert locomo.answer_recall(context, "Marta, Lima", 1) == 0.5
    assert locomo.answer_recall(context, "yes", 4) is None  # matches by chance
    assert locomo.answer_parts("Lima; or Quito", 3) == ["lima"]
    assert locomo.evidence_ids(["D:3:5", "D1:2; D9:9", "D"], {"D3:5", "D1:2"}) == ("D3:5", "D1:2")


def test_captions_are_sent_with_their_turn_and_evidence_is_still_its_text(
    tmp_path: Path,
) -> None:
    sys.path.insert(0, str(BENCH.parent))
    try:
        import locomo
    finally:
        sys.path.remove(str(BENCH.parent))
    path = locomo_file(tmp_path / "tiny.json")
    data = json.loads(path.read_text())
    data[0]["conversation"]["session_2"][3]["blip_caption"] = "a photo of a red lighthouse"
    path.write_text(json.dumps(data))
    plain = locomo.load(path)[0].turns[8]
    shown = locomo.load(path, captions=True)[0].turns[8]
    assert (
        plain.said
        == plain.text
        == shown.text
        == "Maybe one day. I am training for a half marathon now."
    )
    assert shown.said == f"{shown.text} [shares a photo of a red lighthouse]"
    question = "Which lighthouse photo was shared?"
    for conversation, found in (
        (locomo.load(path)[0], False),
        (locomo.load(path, captions=True)[0], True),
    ):
        baseline = locomo.Baseline("bm25", 0)
        baseline.prepare(conversation)
        context = locomo.Context(locomo._content(baseline.package(question, 400)))
        assert (locomo.evidence_recall(context, [shown.text]) == 1.0) is found
