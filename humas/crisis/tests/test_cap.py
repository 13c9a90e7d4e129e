"""CAP 1.2 alerts: parsing, validation, safe XML, feeds and ``humas cap``.

The fixtures are written for this project, shaped like BMKG's nowcast alerts and RSS."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import translation

from humas.crisis import cap

FIXTURES = Path(__file__).resolve().parent / "fixtures"
WIB = timezone(timedelta(hours=7))


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages in English, so tests match the source strings."""
    with translation.override("en"):
        yield


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def run(*args: str, stdin: bytes | None = None) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    kwargs: dict[str, object] = {"stdout": out, "stderr": err}
    if stdin is not None:
        kwargs["stdin"] = io.BytesIO(stdin)
    code = 0
    try:
        call_command("cap", *args, **kwargs)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return out.getvalue(), err.getvalue(), code


# --- parsing ----------------------------------------------------------------------------------


def test_a_bmkg_style_alert_is_valid_and_parsed_with_its_two_polygons() -> None:
    data = fixture("bmkg_style.xml")
    assert cap.validate(data) == []
    alert = cap.parse(data)
    assert alert.identifier == "2.49.0.1.360.0.2026.11.29.13.05.017"
    assert alert.sender == "cuaca.ekstrem@bmkg.go.id"
    assert alert.sent == datetime(2026, 11, 29, 20, 5, tzinfo=WIB)
    assert alert.sent.utcoffset() == timedelta(hours=7)
    assert (alert.status, alert.msg_type, alert.scope) == ("Actual", "Alert", "Public")
    (info,) = alert.infos
    assert info.language == "id"
    assert info.categories == ("Met",)
    assert (info.urgency, info.severity, info.certainty) == ("Immediate", "Moderate", "Observed")
    assert info.event_codes == (("OET", "OET-201"),)
    assert info.effective == datetime(2026, 11, 29, 20, 10, tzinfo=WIB)
    assert info.expires == datetime(2026, 11, 29, 23, 10, tzinfo=WIB)
    assert info.onset is None
    assert info.instruction.startswith("Hindari berteduh")
    (area,) = info.areas
    assert area.desc == "Jawa Barat"
    assert len(area.polygons) == 2
    assert area.polygons[0][0] == (-6.95, 107.8) == area.polygons[0][-1]
    assert len(area.polygons[1]) == 5


def test_the_json_of_an_alert_has_iso_dates_and_keeps_indonesian_text_readable() -> None:
    alert = cap.parse(fixture("bmkg_style.xml"))
    text = alert.to_json()
    row = json.loads(text)
    assert row["sent"] == "2026-11-29T20:05:00+07:00"
    assert row["infos"][0]["areas"][0]["polygons"][1][0] == [-7.02, 107.7]
    assert "Hujan Sedang hingga Lebat" in text
    assert "\\u" not in text


def test_a_bilingual_alert_gives_the_indonesian_info_first_then_english() -> None:
    alert = cap.parse(fixture("bilingual.xml"))
    assert [info.language for info in alert.infos] == ["en-US", "id-ID"]
    assert alert.info_for("id").headline == "Citarum diperkirakan meluap malam ini"  # type: ignore[union-attr]
    assert alert.info_for("en").event == "River flood"  # type: ignore[union-attr]
    # A language the alert does not have falls back to English.
    assert alert.info_for("jv").language == "en-US"  # type: ignore[union-attr]
    assert alert.incidents == ("banjir-citarum-2026-11",)
    en = alert.infos[0]
    assert en.categories == ("Met", "Safety")
    assert en.response_types == ("Prepare",)
    assert en.onset == datetime(2026, 11, 30, 2, tzinfo=WIB)
    assert en.parameters == (("waterLevelCm", "310"),)
    assert en.areas[0].geocodes == (("kemendagri", "32.04.08"),)


def test_without_indonesian_or_english_the_first_info_is_chosen() -> None:
    data = fixture("bilingual.xml").replace(b"en-US", b"fr").replace(b"id-ID", b"nl")
    alert = cap.parse(data)
    assert alert.info_for("id") is alert.infos[0]


def test_a_circle_area_is_read_as_centre_and_radius_in_kilometres() -> None:
    data = fixture("circle.xml")
    assert cap.validate(data) == []
    (area,) = cap.parse(data).infos[0].areas
    assert area.circles == (cap.Circle((-7.5407, 110.4457), 7.0),)
    assert area.polygons == ()
    assert (area.altitude, area.ceiling) == (0.0, 2930.0)


def test_an_update_names_the_alert_it_replaces_by_its_key() -> None:
    original = cap.parse(fixture("bmkg_style.xml"))
    update = cap.parse(fixture("update.xml"))
    assert cap.validate(fixture("update.xml")) == []
    assert update.msg_type == "Update"
    assert update.references == (original.key,)
    assert update.replaces == (original.key,)


def test_a_cancel_references_each_message_and_compares_times_across_offsets() -> None:
    data = fixture("cancel.xml")
    assert cap.validate(data) == []
    cancel = cap.parse(data)
    original = cap.parse(fixture("bmkg_style.xml"))
    update = cap.parse(fixture("update.xml"))
    # The second reference writes the update's time in UTC ("-00:00"): still the same message.
    assert cancel.replaces == (original.key, update.key)
    assert cancel.infos == ()
    assert cancel.info_for("id") is None
    assert not cancel.is_expired(datetime(2030, 1, 1, tzinfo=UTC))


def test_an_alert_without_update_or_cancel_replaces_nothing() -> None:
    data = fixture("bmkg_style.xml").replace(
        b"<scope>Public</scope>",
        b"<scope>Public</scope><references>a@b,x,2026-11-29T20:00:00+07:00</references>",
    )
    alert = cap.parse(data)
    assert len(alert.references) == 1
    assert alert.replaces == ()


def test_the_same_alert_twice_has_the_same_key() -> None:
    assert cap.parse(fixture("bmkg_style.xml")).key == cap.parse(fixture("bmkg_style.xml")).key
    assert cap.parse(fixture("bmkg_style.xml")).key != cap.parse(fixture("update.xml")).key


def test_an_alert_expires_when_all_its_infos_have_expired() -> None:
    alert = cap.parse(fixture("bmkg_style.xml"))
    expires = datetime(2026, 11, 29, 23, 10, tzinfo=WIB)
    assert not alert.is_expired(expires - timedelta(seconds=1))
    assert alert.is_expired(expires)
    assert cap.parse(fixture("expired.xml")).is_expired(datetime(2025, 1, 10, 10, 1, tzinfo=UTC))
    # An info without an end keeps the alert alive.
    assert not cap.parse(fixture("circle.xml")).is_expired(datetime(2099, 1, 1, tzinfo=UTC))


def test_an_expired_alert_is_still_valid_cap() -> None:
    assert cap.validate(fixture("expired.xml")) == []


def test_a_missing_language_means_the_schemas_default() -> None:
    data = fixture("bmkg_style.xml").replace(b"<language>id</language>", b"")
    assert cap.validate(data) == []
    assert cap.parse(data).infos[0].language == "en-US"


def test_parse_is_lenient_about_dates_but_strict_parse_is_not() -> None:
    data = fixture("sent_utc_z.xml")
    assert cap.parse(data).sent == datetime(2026, 11, 29, 13, 5, tzinfo=UTC)
    with pytest.raises(cap.CapError, match="not written as CAP requires"):
        cap.parse(data, strict=True)


def test_a_time_without_offset_cannot_be_parsed() -> None:
    data = fixture("bmkg_style.xml").replace(b"2026-11-29T20:05:00+07:00", b"2026-11-29T20:05:00")
    with pytest.raises(cap.CapError, match="no time zone offset"):
        cap.parse(data)


# --- validation -------------------------------------------------------------------------------


def test_a_missing_identifier_fails_the_schema() -> None:
    data = fixture("missing_identifier.xml")
    (problem,) = cap.validate(data)
    assert problem.startswith("line 3:")
    assert "identifier" in problem
    with pytest.raises(cap.CapError, match="identifier"):
        cap.parse(data)


def test_an_urgency_outside_the_list_fails_the_schema_with_the_allowed_values() -> None:
    (problem,) = cap.validate(fixture("bad_urgency.xml"))
    assert "line 14:" in problem
    assert "'Soon'" in problem and "Immediate" in problem
    assert "urn:oasis" not in problem


@pytest.mark.parametrize(
    ("name", "value"),
    [("sent_utc_z.xml", "2026-11-29T13:05:00Z"), ("sent_fraction.xml", "20:05:00.250+07:00")],
)
def test_a_sent_time_in_utc_z_or_with_fractions_breaks_caps_date_rule(
    name: str, value: str
) -> None:
    (problem,) = cap.validate(fixture(name))
    assert problem.startswith("line 6: sent ")
    assert value in problem
    assert "YYYY-MM-DDThh:mm:ss+hh:mm" in problem


def test_an_open_polygon_and_a_point_off_the_globe_are_problems() -> None:
    data = fixture("circle.xml").replace(
        b"<circle>-7.5407,110.4457 7</circle>",
        b"<polygon>-7.5,110.4 -7.6,110.5 -7.7,110.4 -7.5,110.3</polygon>"
        b"<polygon>-7.5,110.4 -7.6,190.5 -7.7,110.4 -7.5,110.4</polygon>",
    )
    problems = cap.validate(data)
    assert len(problems) == 2
    assert "must be closed" in problems[0]
    assert "-7.6,190.5 is not on the globe" in problems[1]
    with pytest.raises(cap.CapError):
        cap.parse(data)


def test_a_circle_without_radius_and_a_bad_reference_are_problems() -> None:
    data = fixture("circle.xml").replace(b" 7</circle>", b"</circle>")
    data = data.replace(b"<code>", b"<references>only-two,parts</references><code>")
    problems = cap.validate(data)
    assert any("not sender,identifier,sent" in p for p in problems)
    assert any("latitude,longitude radius_km" in p for p in problems)


def test_an_identifier_with_a_space_is_a_problem() -> None:
    data = fixture("bmkg_style.xml").replace(b".017</identifier>", b".017 v2</identifier>")
    (problem,) = cap.validate(data)
    assert "identifier must not contain spaces" in problem


def test_malformed_xml_is_reported_with_the_parsers_reason() -> None:
    (problem,) = cap.validate(fixture("malformed.xml"))
    assert problem.startswith("Not well-formed XML:")
    assert "sender" in problem
    with pytest.raises(cap.CapError, match="Not well-formed"):
        cap.parse(fixture("malformed.xml"))


def test_other_xml_and_other_cap_versions_are_not_cap_1_2() -> None:
    assert cap.validate(fixture("nowcast_rss.xml")) == [
        "Not a CAP 1.2 alert: the root element is rss."
    ]
    older = fixture("bmkg_style.xml").replace(b"cap:1.2", b"cap:1.1")
    (problem,) = cap.validate(older)
    assert "urn:oasis:names:tc:emergency:cap:1.1" in problem
    assert cap.validate(b"  \n") == ["The file is empty."]


# --- unsafe XML -------------------------------------------------------------------------------


def test_a_billion_laughs_bomb_is_refused_before_expansion() -> None:
    (problem,) = cap.validate(fixture("billion_laughs.xml"))
    assert "DOCTYPE" in problem
    with pytest.raises(cap.CapError, match="DOCTYPE"):
        cap.parse(fixture("billion_laughs.xml"))


def test_an_external_entity_is_refused_and_the_file_it_names_is_never_read() -> None:
    data = fixture("xxe.xml")
    (problem,) = cap.validate(data)
    assert "DOCTYPE" in problem
    assert "root:" not in problem
    # Even past the DOCTYPE check, the parser itself leaves the entity unresolved.
    root = cap.etree.fromstring(data, cap._parser())
    note = root.find(f"{{{cap.NS}}}note")
    assert note.text is None
    assert b"root:" not in cap.etree.tostring(root)


def test_a_doctype_is_found_after_a_comment_a_byte_order_mark_and_in_utf_16() -> None:
    data = fixture("xxe.xml").replace(b'<?xml version="1.0"?>\n', b"<!-- hello -->\n")
    assert "DOCTYPE" in cap.validate(data)[0]
    utf16 = fixture("xxe.xml").decode().replace("?>", ' encoding="UTF-16"?>', 1).encode("utf-16")
    assert "DOCTYPE" in cap.validate(utf16)[0]
    for encoding in ("utf-16-le", "utf-16-be"):
        no_bom = fixture("xxe.xml").decode().replace('<?xml version="1.0"?>\n', "")
        assert "DOCTYPE" in cap.validate(no_bom.encode(encoding))[0]
    assert "DOCTYPE" in cap.validate(b"\xef\xbb\xbf" + fixture("billion_laughs.xml"))[0]


def test_doctype_quoted_inside_the_alert_is_not_refused() -> None:
    data = fixture("bmkg_style.xml").replace(
        b"<contact>", b"<note><![CDATA[<!DOCTYPE html> copied by mistake]]></note><contact>"
    )
    # The note is out of place for the schema, but nothing is refused for the quoted DOCTYPE.
    assert not any("DOCTYPE" in p for p in cap.validate(data))


def test_a_huge_file_is_refused_without_parsing(tmp_path: Path) -> None:
    padding = b"<!--" + b"x" * cap.MAX_BYTES + b"-->"
    data = fixture("bmkg_style.xml").replace(b"<scope>", padding + b"<scope>")
    (problem,) = cap.validate(data)
    assert "too large" in problem
    path = tmp_path / "huge.xml"
    path.write_bytes(data)
    _, err, code = run("validate", str(path))
    assert code == 1
    assert f"{path}: The file is too large" in err


def test_a_deeply_nested_document_is_stopped_by_the_parsers_limits() -> None:
    data = b"<alert>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</alert>"
    (problem,) = cap.validate(data)
    assert problem.startswith("Not well-formed XML:")


# --- feeds ------------------------------------------------------------------------------------


def test_the_nowcast_rss_lists_alert_links_with_their_identifier_and_time() -> None:
    items = cap.feed_links(fixture("nowcast_rss.xml"), base_url="https://example.bmkg.go.id/")
    assert [item.link for item in items] == [
        "https://example.bmkg.go.id/alerts/nowcast/id/CJB20261129017_alert.xml",
        "https://example.bmkg.go.id/alerts/nowcast/id/CSS20261129004_alert.xml",
    ]
    first, second = items
    assert first.title == "Hujan Sedang hingga Lebat di Jawa Barat"
    assert first.guid == "2.49.0.1.360.0.2026.11.29.13.05.017"
    assert first.published == datetime(2026, 11, 29, 20, 5, tzinfo=WIB)
    assert second.published is None  # "not a date" does not cost the alert


def test_an_atom_feed_prefers_the_link_typed_as_cap() -> None:
    first, second = cap.feed_links(fixture("alerts_atom.xml"))
    assert first.link == "https://bpbd.example.go.id/cap/1.xml"
    assert first.published == datetime(2026, 11, 29, 14, tzinfo=UTC)
    assert first.guid == "urn:example:bpbd:alert:1"
    assert second.link == "https://bpbd.example.go.id/cap/2.xml"
    assert second.published == datetime(2026, 11, 29, 20, 30, tzinfo=WIB)


def test_a_feed_is_read_with_the_same_refusals() -> None:
    with pytest.raises(cap.CapError, match="DOCTYPE"):
        cap.feed_links(fixture("xxe.xml"))
    with pytest.raises(cap.CapError, match="Not an RSS or Atom feed"):
        cap.feed_links(fixture("bmkg_style.xml"))


# --- humas cap --------------------------------------------------------------------------------


def test_validate_exits_0_when_every_file_is_valid() -> None:
    names = [str(FIXTURES / n) for n in ("bmkg_style.xml", "bilingual.xml", "cancel.xml")]
    out, err, code = run("validate", *names)
    assert code == 0
    assert err == ""
    assert all(f"{name}: valid CAP 1.2 alert" in out for name in names)


def test_validate_names_each_invalid_file_with_its_problem_and_exits_1() -> None:
    good = str(FIXTURES / "circle.xml")
    bad = [str(FIXTURES / n) for n in ("bad_urgency.xml", "xxe.xml", "malformed.xml")]
    out, err, code = run("validate", good, *bad, "/nonexistent/alert.xml")
    assert code == 1
    assert f"{good}: valid CAP 1.2 alert" in out
    assert f"{bad[0]}: line 14: Element 'urgency'" in err
    assert f"{bad[1]}: The document declares a DOCTYPE" in err
    assert f"{bad[2]}: Not well-formed XML" in err
    assert "/nonexistent/alert.xml: cannot read the file" in err
    assert "4 of 5 file(s) are not valid CAP 1.2 alerts." in err


def test_validate_notes_an_expired_alert_but_accepts_it() -> None:
    name = str(FIXTURES / "expired.xml")
    out, _, code = run("validate", name)
    assert code == 0
    assert f"{name}: note: the alert has expired" in out


def test_show_prints_the_alert_as_json_from_standard_input() -> None:
    out, err, code = run("show", "-", stdin=fixture("bilingual.xml"))
    assert code == 0 and err == ""
    row = json.loads(out)
    assert row["identifier"] == "2.49.0.1.360.0.2026.11.29.14.00.003"
    assert [info["language"] for info in row["infos"]] == ["en-US", "id-ID"]
    assert row["infos"][0]["onset"] == "2026-11-30T02:00:00+07:00"
    assert "Citarum diperkirakan meluap" in out


def test_show_refuses_an_invalid_alert_with_its_problems() -> None:
    name = str(FIXTURES / "sent_fraction.xml")
    out, err, code = run("show", name)
    assert code == 1
    assert out == ""
    assert f"{name}: line 6: sent 2026-11-29T20:05:00.250+07:00" in err


def test_show_takes_exactly_one_file() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="humas cap show FILE"):
        run("show", str(FIXTURES / "circle.xml"), str(FIXTURES / "cancel.xml"))
