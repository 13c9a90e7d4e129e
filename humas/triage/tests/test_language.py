import pytest

from humas.triage.engine import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Min, jalan di depan rumah saya rusak parah, kapan diperbaiki?", "id"),
        ("udh seminggu sampah gak diangkut, bau bgt", "id"),
        ("The streetlights on my road have been off for a week", "en"),
        ("Dalane rusak ora tau didandani, piye iki pak?", "jv"),
        ("Jalan di lembur abdi ruksak pisan, teu acan dibenerkeun", "su"),
        ("Min jalannya rusak parah, please fix it as soon as possible, thank you", "mixed"),
    ],
)
def test_it_tells_the_languages_citizens_write_in(text: str, expected: str) -> None:
    assert detect_language(text)[0] == expected


def test_malay_words_in_an_indonesian_message_do_not_make_it_mixed() -> None:
    text = "Min, jalan di depan rumah rusak kerana hujan, boleh tak segera diperbaiki?"
    assert detect_language(text)[0] == "id"


def test_a_message_that_is_clearly_malay_is_not_called_indonesian() -> None:
    text = "Saya nak tanya, boleh tak awak sila semak permohonan saya kerana dah lama, percuma ke?"
    assert detect_language(text)[0] != "id"


def test_empty_and_emoji_only_messages_have_no_language() -> None:
    assert detect_language("") == ("unknown", 1.0)
    assert detect_language("😡😡🙏") == ("unknown", 1.0)
