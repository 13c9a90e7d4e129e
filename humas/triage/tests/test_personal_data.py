from humas.triage import classify, mask
from humas.triage.engine import find_personal_data


def spans(text: str, kind: str) -> list[str]:
    return [text[f["start"] : f["end"]] for f in find_personal_data(text) if f["kind"] == kind]


def test_it_finds_a_nik_with_a_plausible_province_and_birth_date() -> None:
    text = "NIK saya 3273014506900002 tolong dicek"
    assert spans(text, "nik") == ["3273014506900002"]


def test_it_finds_a_nik_written_in_groups_of_four() -> None:
    text = "nik: 3578 1201 0190 0003"
    assert spans(text, "nik") == ["3578 1201 0190 0003"]


def test_it_ignores_sixteen_digits_that_cannot_be_a_nik() -> None:
    # province 99 does not exist and month 13 is not a month
    assert spans("nomor resi 9912341399000001", "nik") == []
    assert spans("kode 3273011390000001", "nik") == []


def test_it_finds_indonesian_mobile_numbers_in_common_formats() -> None:
    for number in (
        "081234567890",
        "0812-3456-7890",
        "+62 812 3456 7890",
        "62812345678",
        "0857 1122 3344",
    ):
        text = f"hubungi saya di {number} ya min"
        assert spans(text, "phone") == [number], number


def test_it_finds_a_landline_with_an_area_code() -> None:
    assert spans("telp kantor (021) 5551234", "phone") == ["(021) 5551234"]


def test_a_nik_is_not_also_reported_as_a_phone_number() -> None:
    found = find_personal_data("3273014506900002")
    assert [f["kind"] for f in found] == ["nik"]


def test_it_finds_an_email_address() -> None:
    assert spans("email saya budi.santoso+lapor@gmail.com ya", "email") == [
        "budi.santoso+lapor@gmail.com"
    ]


def test_it_finds_a_street_address_with_its_rt_rw_as_one_span() -> None:
    text = "rumah saya di Jl. Melati Indah No. 12, RT 03/RW 05 Kel. Sukajadi"
    assert spans(text, "address") == ["Jl. Melati Indah No. 12, RT 03/RW 05"]


def test_it_finds_an_rt_rw_on_its_own_but_not_a_bare_street_name() -> None:
    assert spans("warga rt 4 rw 11 kebanjiran", "address") == ["rt 4 rw 11"]
    assert spans("jalan rusak parah di depan sekolah", "address") == []


def test_mask_replaces_each_span_with_its_kind() -> None:
    text = "WA 0812-3456-7890, email a@b.co, NIK 3273014506900002"
    result = classify(text)
    assert mask(text, result.personal_data) == ("WA [phone •••], email [email •••], NIK [nik •••]")


def test_mask_skips_spans_that_overlap_or_fall_outside_the_text() -> None:
    found = [
        {"kind": "phone", "start": 0, "end": 4},
        {"kind": "nik", "start": 2, "end": 6},
        {"kind": "email", "start": 50, "end": 60},
    ]
    assert mask("12345678", found) == "[phone •••]5678"


def test_spans_point_into_the_original_text_even_after_html_and_emoji() -> None:
    text = "<b>😡 tolong</b> hubungi 081234567890"
    (found,) = classify(text).personal_data
    assert text[found["start"] : found["end"]] == "081234567890"
