import pytest

from humas.triage import Triage, classify, classify_many

# Written for these tests, not taken from the seed set: the rules must hold on new wording.
UNSEEN_EMERGENCIES = [
    "Min banjir udah masuk rumah setinggi lutut di Perum Bukit Indah, ada nenek gak bisa jalan",
    "kebakaran gudang kayu dekat rel kereta, apinya gede banget, damkar mana??",
    "Ada kecelakaan motor vs truk di bundaran, korban masih tergeletak",
    "longsor nutup jalan provinsi km 40, ada mobil yang ketimbun",
    "gempa barusan kerasa banget, tembok rumah kami retak, anak2 nangis",
    "tolong ada anak tenggelam di kolam retensi belakang perumahan",
    "ada bapak2 pingsan di antrian bansos kantor pos, belum ada yang nolong",
    "truk ngeblong remnya terus nabrak warung, ada yang kejepit",
    "min ada orang kelelep di waduk, temennya teriak2",
    "anak saya ketiban tembok pagar, kepalanya berdarah",
    "lindu gede banget, wong-wong podo mlayu metu omah",
    "nenek saya tiba2 gak sadar di rumah, ambulans gak bisa dihubungi",
]

NOT_EMERGENCIES = [
    "Nomor darurat damkar di kota ini berapa ya? Buat disimpan",
    "tagihan air naik terus tiap bulan, padahal pemakaian sama",
    "Kenapa lampu jalan gak nyala? warga gak sadar ada lubang",
    "Tolong min, aplikasi antrean puskesmas gak bisa login dari pagi",
    "Kami ikut simulasi gempa di sekolah tadi pagi, seru",
]


def test_a_flood_report_is_an_emergency_with_critical_urgency() -> None:
    result = classify("TOLONG!! banjir sudah sepinggang di RW 05, warga terjebak di atap")
    assert result.category == "emergency"
    assert result.urgency == "critical"
    assert result.confidence["category"] >= 0.9
    assert result.confidence["urgency"] >= 0.9


@pytest.mark.parametrize("text", UNSEEN_EMERGENCIES)
def test_unseen_emergencies_are_recalled(text: str) -> None:
    result = classify(text)
    assert (result.category, result.urgency) == ("emergency", "critical")


@pytest.mark.parametrize("text", NOT_EMERGENCIES)
def test_emergency_words_in_a_question_a_bill_or_a_drill_do_not_force_an_emergency(
    text: str,
) -> None:
    assert classify(text).category != "emergency"


def test_a_flood_prevention_suggestion_is_not_forced_to_emergency() -> None:
    result = classify("Saran min, normalisasi sungai dipercepat biar tiap musim hujan gak banjir")
    assert result.category != "emergency"


def test_tolong_as_please_in_a_question_is_not_an_emergency() -> None:
    result = classify("Tolong info jadwal perpanjangan SIM keliling minggu ini min")
    assert result.category != "emergency"


def test_a_pothole_complaint_is_a_complaint() -> None:
    result = classify("min jalan di depan pasar bolong2 gede bgt udah sebulan gak diperbaiki 😡")
    assert result.category == "complaint"
    assert result.sentiment == "negative"


def test_a_question_about_a_ktp_is_an_information_request() -> None:
    result = classify("Permisi min, syarat perpanjang KTP yang rusak apa aja ya?")
    assert result.category == "information_request"


def test_thanks_to_the_fire_brigade_is_appreciation() -> None:
    result = classify("Terima kasih banyak petugas damkar, cepat sekali datangnya 🙏")
    assert result.category == "appreciation"
    assert result.sentiment == "positive"
    assert result.urgency == "low"


def test_an_insult_is_abusive() -> None:
    assert classify("dasar pejabat goblok, kerja gak becus").abusive is True


def test_a_polite_complaint_is_not_abusive() -> None:
    assert classify("Mohon maaf pak, lampu jalan di gang kami mati sejak Senin").abusive is False


def test_every_field_has_a_confidence_between_zero_and_one() -> None:
    result = classify("jalan rusak")
    assert set(result.confidence) == {"language", "sentiment", "category", "urgency", "abusive"}
    assert all(0.0 <= value <= 1.0 for value in result.confidence.values())


def test_a_low_confidence_sets_needs_review() -> None:
    result = classify("hmm gimana ya")
    assert result.needs_review == any(v < 0.6 for v in result.confidence.values())


def test_as_dict_has_exactly_the_documented_keys() -> None:
    assert set(classify("halo").as_dict()) == {
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


def test_classify_many_agrees_with_classify_one_by_one() -> None:
    texts = ["air mati 3 hari", "terima kasih min", "", "kebakaran di pasar!!"]
    assert classify_many(texts) == [classify(text) for text in texts]
    assert classify_many([]) == []
    assert all(isinstance(result, Triage) for result in classify_many(texts))


def test_as_dict_is_exactly_what_dataclasses_asdict_gives():
    from dataclasses import asdict

    texts = [
        "Tolong! Banjir setinggi dada di Jl. Merdeka 12, hubungi 0812-3456-7890 atau a@b.id",
        "Menang besar di slot88.bet, daftar di dukcapil-online.com dan unduh app.apk",
        "Terima kasih pelayanannya cepat",
    ]
    for triage in classify_many(texts):
        shaped = triage.as_dict()
        assert shaped == asdict(triage)
        # A copy: changing it leaves the triage as it was.
        for item in shaped["links"] + shaped["personal_data"]:
            for value in item.values():
                if isinstance(value, list):
                    value.append("x")
        assert triage.as_dict() == asdict(triage)
