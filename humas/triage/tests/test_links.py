from humas.triage import classify
from humas.triage.engine import find_links


def reasons(text: str) -> dict[str, list[str]]:
    return {link["url"]: link["reasons"] for link in find_links(text)}


def test_an_official_go_id_link_is_not_flagged() -> None:
    assert find_links("lapor di https://www.lapor.go.id/laporan ya") == []
    assert find_links("info di kemenkes.go.id dan pln.co.id") == []


def test_lookalikes_of_government_domains_are_flagged() -> None:
    for url in (
        "https://lapor-go-id.com/aduan",
        "kemenkes.g0.id",
        "www.dukcapil-gov-id.com",
        "bansos-kemensos.xyz",
        "http://lapor.go.id.verify-akun.site/login",
    ):
        found = reasons(f"silakan cek {url} sekarang")
        assert any("government_lookalike" in r for r in found.values()), url


def test_an_apk_download_is_flagged() -> None:
    assert reasons("download https://files.example.com/Undangan_Nikah.apk")[
        "https://files.example.com/Undangan_Nikah.apk"
    ] == ["apk_download"]
    assert "apk_download" in reasons("buka file Lihat_Foto_Paket.apk")["Lihat_Foto_Paket.apk"]


def test_a_link_in_a_gambling_promotion_is_flagged() -> None:
    assert reasons("slot gacor maxwin hari ini di www.hoki88.com")["www.hoki88.com"] == ["gambling"]
    assert "gambling" in reasons("main di togel-jitu.net")["togel-jitu.net"]


def test_link_shorteners_are_flagged() -> None:
    found = reasons("cek bit.ly/3abcd dan https://s.id/promo juga tinyurl.com/xyz, cutt.ly/a1")
    assert set(found) == {"bit.ly/3abcd", "https://s.id/promo", "tinyurl.com/xyz", "cutt.ly/a1"}
    assert all(r == ["shortener"] for r in found.values())


def test_a_link_to_a_bare_ip_address_is_flagged() -> None:
    assert reasons("login di http://103.20.1.5/bpjs")["http://103.20.1.5/bpjs"] == ["ip_address"]


def test_gambling_spam_is_spam_with_low_urgency() -> None:
    result = classify("SLOT GACOR hari ini pasti maxwin, depo 10rb di bit.ly/gacor77 🔥")
    assert result.category == "spam"
    assert result.urgency == "low"
    assert result.links[0]["reasons"] == ["gambling", "shortener"]


def test_a_plain_sentence_with_dots_has_no_links() -> None:
    assert find_links("Jl. Merdeka No. 5. Sudah lapor ke pak RT. Terima kasih.") == []


def test_a_shortened_link_offered_as_an_apk_is_flagged_as_an_apk_download() -> None:
    found = reasons("download APK-nya buat cek bansos di bit.ly/cekbansos")
    assert found["bit.ly/cekbansos"] == ["apk_download", "shortener"]


def test_a_message_with_a_government_lookalike_link_is_spam() -> None:
    result = classify("Klaim hadiah undian dari pemkot di pemkot-hadiah.site sekarang juga")
    assert result.category == "spam"
    assert result.links == [{"url": "pemkot-hadiah.site", "reasons": ["government_lookalike"]}]
