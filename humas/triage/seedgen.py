"""How ``data/seed.jsonl`` was written: hand-written messages plus template variations.

The seed set teaches the category, urgency and abuse models (and adds citizen-style examples
to the sentiment model). Every line was written for this project; none is copied from a real
account. Hand-written lines carry most of the variety; templates add the everyday bulk
(potholes, garbage, KTP queues…) with slang, typos, capitals and emoji applied at random, the
way people actually type to a city account. Re-run with ``python -m humas.triage.seedgen`` to
rewrite the file (the output is deterministic).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HAND_FILE = Path(__file__).with_name("data") / "seed_hand.txt"


def hand_lines() -> list[tuple[str, str, str, bool, str, str]]:
    """``(category, urgency, sentiment, abusive, language, text)`` of the hand-written lines."""
    rows = []
    for line in HAND_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            category, urgency, sentiment, abusive, language, text = line.split("|", 5)
            rows.append((category, urgency, sentiment, abusive == "1", language, text))
    return rows


REGIONS = [
    "Kelurahan Sukajadi",
    "RW 04 Kampung Melayu",
    "Perum Griya Permai",
    "Desa Karangrejo",
    "jl. Pahlawan",
    "Gang Masjid",
    "Komplek Bumi Asri",
    "Kecamatan Cibeunying",
    "Pasar Lama",
    "dekat SMPN 2",
    "belakang terminal",
    "Dusun Krajan",
    "Jalan Veteran",
    "Perumnas Klender",
    "Desa Mekarsari",
    "depan kantor pos",
    "Kampung Baru",
    "jl. Cendrawasih",
    "samping masjid Al Ikhlas",
    "Blok F perumahan",
]

COMPLAINTS = {
    "road": [
        ("jalan {r} rusak parah, banyak lubang besar", "normal"),
        ("aspal di {r} udah ngelupas semua, motor sering jatuh", "high"),
        ("jalan di {r} bolong gede, kemarin ada yang jatuh", "high"),
        ("perbaikan jalan {r} cuma ditambal asal, seminggu udah rusak lagi", "normal"),
        ("jalan {r} bergelombang dan berdebu parah sejak proyek galian", "normal"),
    ],
    "garbage": [
        ("sampah di {r} udah berhari-hari gak diangkut", "normal"),
        ("TPS {r} penuh sampai meluber ke jalan, bau busuk", "normal"),
        ("ada yang buang sampah sembarangan di {r} tiap malam", "normal"),
        ("truk sampah gak lewat {r} udah 2 minggu", "normal"),
        ("sampah numpuk di saluran air {r}, lalat di mana-mana", "high"),
    ],
    "water": [
        ("air PDAM di {r} mati dari kemarin", "normal"),
        ("air PDAM di {r} keruh dan bau", "high"),
        ("tekanan air di {r} kecil banget, cuma netes", "normal"),
        ("pipa PDAM bocor di {r}, airnya terbuang percuma", "normal"),
        ("tagihan PDAM saya naik 3x lipat padahal pemakaian biasa aja", "normal"),
    ],
    "electricity": [
        ("listrik di {r} padam terus tiap malam", "normal"),
        ("lampu jalan di {r} mati semua, gelap gulita", "normal"),
        ("token listrik udah diisi tapi gak masuk", "normal"),
        ("tegangan listrik di {r} naik turun, alat elektronik pada rusak", "normal"),
    ],
    "civil": [
        ("KTP saya udah 2 bulan belum jadi", "normal"),
        ("urus KK di dukcapil ribet banget, disuruh bolak balik", "normal"),
        ("antrian dukcapil panjang banget, nomor habis jam 8 pagi", "normal"),
        ("data di KK saya salah tulis nama, udah lapor tapi belum dibenerin", "normal"),
        ("akta kelahiran anak saya belum jadi padahal udah sebulan", "normal"),
        ("aplikasi dukcapil online error terus pas upload dokumen", "normal"),
    ],
    "health": [
        ("BPJS saya tiba-tiba nonaktif padahal rutin bayar", "high"),
        ("antri di puskesmas dari subuh, dokternya baru datang jam 10", "normal"),
        ("ditolak berobat pakai BPJS di klinik, disuruh bayar umum", "high"),
        ("obat di apotek puskesmas sering kosong", "normal"),
        ("rujukan BPJS ribet, harus balik ke faskes 1 terus", "normal"),
    ],
    "school": [
        ("sekolah minta uang seragam mahal padahal katanya gratis", "normal"),
        ("atap kelas SD di {r} bocor, anak2 belajar kehujanan", "high"),
        ("sistem PPDB zonasi gak adil, rumah dekat malah gak keterima", "normal"),
        ("dana BOS di sekolah anak saya gak jelas penggunaannya", "normal"),
    ],
    "permit": [
        ("izin usaha saya udah sebulan belum keluar", "normal"),
        ("sistem OSS error terus, gak bisa urus NIB", "normal"),
        ("urus IMB/PBG lama banget, katanya ada biaya tambahan", "normal"),
        ("pengajuan izin keramaian ditolak tanpa alasan jelas", "normal"),
    ],
    "traffic": [
        ("macet parah di {r} tiap pagi, gak ada petugas", "normal"),
        ("lampu lalu lintas di {r} mati", "high"),
        ("parkir liar di {r} bikin jalan menyempit", "normal"),
        ("angkot ngetem sembarangan di {r}", "normal"),
    ],
}
OPENERS = ["", "", "Min, ", "min ", "Pak, ", "Permisi, ", "Halo min, ", "Assalamualaikum, ", "Bu, "]
DURATIONS = ["", "", " udah seminggu", " dari kemarin", " sudah sebulan lebih", " udah 3 hari"]
PLEAS = [
    "",
    ". Tolong ditindaklanjuti",
    ", mohon segera diperbaiki",
    ". kapan diberesin?",
    ". gimana ini?",
    ", tolong dong min",
    ". Mohon perhatiannya",
    ". sampai kapan begini terus??",
    ". warga udah capek lapor",
]
NEG_EMOJI = ["", "", "", " 😡", " 😤", " 😭", " 🙏", " 😒"]

QUESTIONS = [
    "syarat bikin {doc} apa aja ya{end}",
    "cara urus {doc} online gimana{end}",
    "bikin {doc} bisa di kecamatan gak{end}",
    "berapa lama proses {doc} jadi{end}",
    "{doc} bayar gak sih{end}",
    "mau tanya, {doc} bisa diwakilkan gak{end}",
    "kalau {doc} hilang ngurusnya ke mana ya{end}",
    "jadwal layanan {doc} keliling kapan{end}",
]
DOCS = [
    "KTP",
    "e-KTP",
    "KK",
    "akta kelahiran",
    "akta kematian",
    "KIA anak",
    "surat pindah",
    "SKCK",
    "NIB",
    "izin PIRT",
    "kartu BPJS",
    "kartu kuning",
    "surat keterangan domisili",
    "PBG",
    "sertifikat halal gratis",
]
INFO_TOPICS = [
    "jadwal posyandu di {r} kapan",
    "pendaftaran PPDB dibuka kapan",
    "vaksin HPV buat anak SD kapan",
    "ada pasar murah gak bulan ini",
    "lowongan PPPK tahun ini ada",
    "jam buka kantor kelurahan hari sabtu",
    "pembayaran PBB bisa lewat e-wallet",
    "ada program bedah rumah buat warga {r}",
    "cara daftar jadi penerima PKH",
    "kuota beasiswa kota tahun ini berapa",
    "rute trans kota ke {r}",
    "nomor call center BPBD berapa",
    "kapan pembagian sembako di {r}",
    "pelatihan kerja gratis dari disnaker masih buka",
]
Q_ENDS = ["?", " min?", " ya min?", "??", " kak?", ". makasih", " 🙏", " pak?"]

ASPIRATIONS = [
    "gimana kalau di {r} dibangun taman bermain anak",
    "usul ditambah tempat sampah di sepanjang {r}",
    "sebaiknya ada jalur sepeda di {r}",
    "tolong dipertimbangkan penambahan lampu jalan di {r}",
    "saran saya jam layanan dukcapil diperpanjang sampai sore",
    "mohon diadakan pelatihan UMKM untuk ibu-ibu di {r}",
    "perlu ada posyandu lansia di {r}",
    "semoga ada program beasiswa untuk anak petani",
    "baiknya layanan pengaduan dibuka 24 jam lewat WA",
    "harapan warga {r} ada puskesmas pembantu yang lebih dekat",
    "usul CFD diadakan juga di {r}",
    "alangkah baiknya pasar {r} direvitalisasi",
]
APPRECIATIONS = [
    "terima kasih, {thing} udah beres",
    "makasih min, {thing} cepet banget ditangani",
    "mantap, {thing} sekarang udah bagus",
    "salut buat petugas, {thing} langsung dikerjain",
    "apresiasi buat pemkot, {thing} akhirnya selesai",
]
THINGS = [
    "jalan di {r}",
    "lampu jalan di {r}",
    "sampah di {r}",
    "air PDAM di {r}",
    "KTP saya",
    "laporan saya soal got mampet",
    "perbaikan jembatan {r}",
    "pelayanan di puskesmas",
    "urusan KK saya",
]
POS_EMOJI = ["", "", " 🙏", " 👍", " 👏", " ❤️", " 😊", "!!"]

EMERGENCIES = [
    "{help}kebakaran di {r}, api makin besar{more}",
    "{help}banjir di {r} udah setinggi pinggang, warga terjebak{more}",
    "{help}longsor di {r}, ada rumah tertimbun{more}",
    "{help}gempa barusan kenceng banget, rumah di {r} pada retak{more}",
    "{help}kecelakaan di {r}, korbannya belum ditolong{more}",
    "{help}ada orang tenggelam di kali dekat {r}{more}",
    "{help}ada warga pingsan di {r}, gak sadar{more}",
    "{help}pohon tumbang nutup jalan di {r}, ada motor ketiban{more}",
    "{help}kabel listrik putus di {r}, keluar percikan api{more}",
    "{help}air sungai meluap ke {r}, arus deras banget{more}",
    "{help}ada begal di {r} barusan, korbannya luka{more}",
    "{help}rumah warga di {r} roboh kena angin kencang{more}",
    "{help}anak hilang terseret arus di {r}{more}",
    "{help}gas bocor di warung {r}, bau banget{more}",
]
HELPS = ["", "", "TOLONG!! ", "tolong ", "Darurat! ", "Min tolong, ", "SOS ", "tolong kami, "]
MORES = [
    "",
    ", tolong segera",
    ". butuh ambulans",
    ", damkar belum datang",
    ". mohon bantuan cepat",
    "!!!",
    ", tolong kirim tim SAR",
    " 😭😭",
]
SPAMS = [
    "slot gacor {site} maxwin tiap hari, depo {n}rb langsung wd",
    "link alternatif {site} anti rungkad, scatter hitam turun terus",
    "info togel jitu hari ini, 4D pasti tembus, join {site}",
    "GIVEAWAY {n} juta buat {n} orang beruntung, klaim di {site}",
    "cek saldo bansos kamu di {site}, cair hari ini",
    "download aplikasi {app} buat cek status BLT",
    "pinjol legal cair cepat tanpa jaminan, klik {site}",
    "mau akun jadi viral? beli followers di {site}",
    "judi online terpercaya, bonus new member 100% di {site}",
    "paket anda tertahan, lihat detail di {app}",
]
SITES = [
    "bit.ly/slot-gacor88",
    "s.id/maxwin77",
    "gacor4d.xyz",
    "cutt.ly/bansos-cair",
    "bansos-kemensos.online",
    "tinyurl.com/cuan-harian",
    "lapor-go-id.site",
    "dukcapil-online.com",
    "kemenkes-gov-id.info",
    "slotzeus.vip",
    "shorturl.at/bonus100",
]
APPS = ["CekBansos.apk", "BLT_2024.apk", "Lihat_Foto_Paket.apk", "J&T_Resi.apk", "KTP_Digital.apk"]

SLANG_SWAPS = {
    " tidak ": [" gak ", " ga ", " nggak ", " tdk "],
    " gak ": [" ga ", " nggak ", " gk ", " tidak "],
    " sudah ": [" udah ", " udh ", " sdh "],
    " udah ": [" udh ", " sudah ", " dah "],
    " yang ": [" yg "],
    " banget": [" bgt", " bangettt", " bgtt"],
    " belum ": [" blm ", " blom "],
    " tolong ": [" tlg ", " tolongg "],
    " dengan ": [" dgn "],
    " untuk ": [" utk ", " buat "],
    " kalau ": [" kalo ", " klo "],
    " gimana": [" gmn", " bagaimana", " gmna"],
    " mau ": [" mo ", " mw "],
    " parah": [" parahhh", " parah bgt"],
}


def _stylise(text: str, rng: random.Random) -> str:
    padded = f" {text} "
    for source, targets in SLANG_SWAPS.items():
        if source in padded and rng.random() < 0.5:
            padded = padded.replace(source, rng.choice(targets), 1)
    text = padded.strip()
    roll = rng.random()
    if roll < 0.08:
        text = text.upper()
    elif roll < 0.45:
        text = text.lower()
    else:
        text = text[0].upper() + text[1:]
    if rng.random() < 0.12 and len(text) > 20:
        # one dropped letter, as thumbs do
        position = rng.randrange(5, len(text) - 5)
        if text[position].isalpha():
            text = text[:position] + text[position + 1 :]
    return text


def generate(seed: int = 2024) -> list[dict[str, object]]:
    rng = random.Random(seed)  # noqa: S311  (reproducible variety, not security)
    rows: list[dict[str, object]] = []
    for category, urgency, sentiment, abusive, language, text in hand_lines():
        rows.append(_row(text, language, sentiment, category, urgency, abusive))

    def region() -> str:
        return rng.choice(REGIONS)

    for topic in COMPLAINTS.values():
        for template, urgency in topic:
            for _ in range(3):
                body = template.format(r=region())
                # A body that already says how long ("udah 2 bulan") gets no second duration.
                timed = any(
                    word in body for word in ("hari", "bulan", "minggu", "kemarin", "subuh")
                )
                duration = "" if timed else rng.choice(DURATIONS)
                text = (
                    rng.choice(OPENERS)
                    + body
                    + duration
                    + rng.choice(PLEAS)
                    + rng.choice(NEG_EMOJI)
                )
                rude = rng.random() < 0.06
                if rude:
                    text += rng.choice([". goblok semua", ", dasar pejabat tolol", " anjing"])
                rows.append(_row(_stylise(text, rng), "id", "negative", "complaint", urgency, rude))
    for template in QUESTIONS:
        for doc in rng.sample(DOCS, 6):
            opener = rng.choice(OPENERS)
            text = opener + template.format(doc=doc, end=_question_end(opener, rng))
            rows.append(
                _row(_stylise(text, rng), "id", "neutral", "information_request", "normal", False)
            )
    for template in INFO_TOPICS:
        for _ in range(3):
            opener = rng.choice(
                ["", "min ", "Kak, ", "Mau tanya, ", "Permisi min, ", "Info dong, "]
            )
            text = opener + template.format(r=region()) + _question_end(opener, rng)
            rows.append(
                _row(_stylise(text, rng), "id", "neutral", "information_request", "normal", False)
            )
    for template in ASPIRATIONS:
        for _ in range(3):
            text = rng.choice(OPENERS) + template.format(r=region()) + rng.choice(["", ".", " 🙏"])
            rows.append(_row(_stylise(text, rng), "id", "neutral", "aspiration", "low", False))
    for template in APPRECIATIONS:
        for _ in range(6):
            thing = rng.choice(THINGS).format(r=region())
            text = template.format(thing=thing) + rng.choice(POS_EMOJI)
            rows.append(_row(_stylise(text, rng), "id", "positive", "appreciation", "low", False))
    for template in EMERGENCIES:
        for _ in range(4):
            text = template.format(help=rng.choice(HELPS), r=region(), more=rng.choice(MORES))
            rows.append(_row(_stylise(text, rng), "id", "negative", "emergency", "critical", False))
    for template in SPAMS:
        for _ in range(4):
            text = template.format(
                site=rng.choice(SITES), app=rng.choice(APPS), n=rng.choice([10, 20, 50, 100])
            )
            text += rng.choice(["", " 🔥🔥", " 💰", "!!", " 🤑"])
            rows.append(_row(_stylise(text, rng), "id", "positive", "spam", "low", False))
    seen: set[str] = set()
    unique = []
    for row in rows:
        key = str(row["text"]).lower()
        if key not in seen:
            seen.add(key)
            unique.append(row)
    rng.shuffle(unique)
    return unique


def _question_end(opener: str, rng: random.Random) -> str:
    """A question ending that does not address the admin twice ("min …, kak?")."""
    addressed = any(word in opener.lower() for word in ("min", "pak", "bu", "kak"))
    ends = [
        end for end in Q_ENDS if not (addressed and any(w in end for w in ("min", "kak", "pak")))
    ]
    return rng.choice(ends)


def _row(
    text: str, language: str, sentiment: str, category: str, urgency: str, abusive: bool
) -> dict[str, object]:
    if abusive and sentiment != "negative":
        sentiment = "negative"
    return {
        "text": text,
        "language": language,
        "sentiment": sentiment,
        "category": category,
        "urgency": urgency,
        "abusive": abusive,
    }


def write(path: Path | None = None) -> int:
    target = path or Path(__file__).with_name("data") / "seed.jsonl"
    rows = generate()
    with target.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


if __name__ == "__main__":
    print(write())
