import json

from humas.triage import classify, classify_many


def test_an_empty_message_is_unknown_and_low_urgency() -> None:
    for text in ("", "   ", "\n\t"):
        result = classify(text)
        assert result.language == "unknown"
        assert result.urgency == "low"
        assert result.personal_data == []
        assert result.links == []


def test_an_emoji_only_message_does_not_crash() -> None:
    result = classify("😡😡😡🙏")
    assert result.language == "unknown"
    assert result.category == "other"


def test_a_100_kb_message_is_handled_and_still_scanned_for_personal_data() -> None:
    text = "jalan rusak parah " * 5500 + " hubungi 081234567890"
    assert 99_000 < len(text) <= 100_000
    result = classify(text)
    assert result.category == "complaint"
    assert result.personal_data[-1]["kind"] == "phone"


def test_a_message_longer_than_the_scan_limit_does_not_crash() -> None:
    assert classify("a" * 500_000).language in ("id", "unknown")


def test_binary_and_control_characters_do_not_crash() -> None:
    text = "\x00\x01\x02jalan\x7f rusak \ufffd\x1b[31m" + bytes(range(256)).decode("latin-1")
    result = classify(text)
    json.dumps(result.as_dict())


def test_non_strings_are_treated_as_text_rather_than_crashing() -> None:
    results = classify_many([None, b"air mati \xff", 12345])  # type: ignore[list-item]
    assert len(results) == 3


def test_html_and_script_text_are_stripped_before_classifying() -> None:
    result = classify("<script>alert('x')</script><p>Kebakaran di <b>pasar</b>!!</p>")
    assert result.category == "emergency"


def test_mixed_scripts_do_not_crash() -> None:
    result = classify("Привет 你好 مرحبا jalan rusak ไทย")
    assert result.category in ("complaint", "other")
