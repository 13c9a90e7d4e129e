import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def run(*args: str, stdin: str | None = None) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    kwargs = {"stdout": out, "stderr": err}
    if stdin is not None:
        kwargs["stdin"] = io.StringIO(stdin)
    try:
        call_command("triage", *args, **kwargs)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return out.getvalue(), err.getvalue(), code


def test_it_triages_one_message_per_line_from_standard_input() -> None:
    out, err, code = run("-", stdin="banjir masuk rumah, tolong!!\nterima kasih min\n")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and err == ""
    assert [row["category"] for row in rows] == ["emergency", "appreciation"]
    assert set(rows[0]) == {
        "language",
        "sentiment",
        "category",
        "urgency",
        "abusive",
        "personal_data",
        "links",
        "confidence",
        "needs_review",
    }


def test_it_reads_jsonl_and_keeps_the_message_id() -> None:
    out, _, code = run("--format", "jsonl", stdin='{"id": "m1", "text": "air mati"}\n')
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert row["id"] == "m1"


def test_it_reads_the_first_column_of_a_tsv_and_skips_a_header(tmp_path: Path) -> None:
    path = tmp_path / "messages.tsv"
    path.write_text("text\tchannel\nhubungi 081234567890\twa\nhalo\tig\n", encoding="utf-8")
    out, _, code = run(str(path))
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert len(rows) == 2
    assert rows[0]["personal_data"][0]["kind"] == "phone"


def test_bad_jsonl_lines_are_reported_by_number_and_the_rest_is_processed() -> None:
    stdin = '{"text": "halo"}\nnot json\n{"body": "no text"}\n{"text": 5}\n{"text": "air mati"}\n'
    out, err, code = run("--format", "jsonl", stdin=stdin)
    assert code == 1
    assert len(out.splitlines()) == 2
    assert "Line 2" in err and "Line 3" in err and "Line 4" in err
    assert "3 bad line(s)" in err


def test_a_missing_file_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="Cannot read"):
        run("/nonexistent/messages.txt")


def test_evaluate_prints_accuracy_and_macro_f1_for_the_labelled_fields(tmp_path: Path) -> None:
    path = tmp_path / "labelled.jsonl"
    rows = [
        {"text": "kebakaran di pasar, tolong!!", "category": "emergency", "urgency": "critical"},
        {"text": "terima kasih min 🙏", "category": "appreciation", "urgency": "low"},
        {"text": "syarat bikin KTP apa saja?", "category": "information_request"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out, _, code = run("evaluate", str(path))
    assert code == 0
    assert "3 messages" in out
    assert "category" in out and "urgency" in out and "macro-F1=" in out
    assert "sentiment" not in out  # not labelled in the file: skipped
    assert "emergency recall=1.000" in out


def test_evaluate_needs_a_file() -> None:
    with pytest.raises(CommandError, match="evaluate FILE"):
        run("evaluate")
