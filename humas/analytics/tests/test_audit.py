"""Content audit: the hook scorer's rules, scoring past posts (a person's answer wins), the
results per value, and the pages with their rights and organisation boundaries."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry
from humas.accounts.testing import make_member, sign_in
from humas.analytics import actions, audit, periods
from humas.analytics.models import AuditRubric, AuditScore
from humas.analytics.testing import make_published, record_followers
from humas.channels.models import InboundEvent
from humas.publishing.models import Delivery, MediaAsset
from humas.publishing.testing import make_channel, make_post

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")
_ids = count(1)


def wib(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=WIB)


def published(channel, text: str = "Info layanan", at: datetime | None = None, **counts):
    return make_published(channel, at or wib(2026, 11, 3), text=text, **counts)


def followers(channel, day: date, n: int | None) -> None:
    record_followers(channel, day, n)


def scored(rubric, post, value: str, source: str = "person") -> AuditScore:
    return AuditScore.objects.create(rubric=rubric, post=post, value=value, source=source)


@pytest.fixture
def hook(org) -> AuditRubric:
    return audit.ensure_hook_rubric(org)


# --- the hook rules --------------------------------------------------------------------------

HOOK_EXAMPLES = [
    # question: a question word first, or a first sentence ending with "?"
    ("Tahukah kamu bahwa DBD bisa dicegah dengan 3M?", "question"),
    ("Sudahkah Anda cek jadwal posyandu bulan ini", "question"),
    ("Bagaimana cara daftar KTP online? Simak langkahnya.", "question"),
    ("Di mana lokasi vaksinasi terdekat", "question"),
    ("Jalan Merdeka sudah bisa dilewati lagi?", "question"),
    ("Did you know the clinic opens on Saturday?", "question"),
    ("How do you renew your ID card online", "question"),
    # number: opens with a number, a counted list, a percentage
    ("5 cara mencegah demam berdarah di rumah.", "number"),
    ("Tiga kelurahan kini bebas sampah plastik.", "number"),
    ("Sebanyak 87% warga sudah menerima vaksin.", "number"),
    ("Berikut 3 tips aman berkendara saat hujan", "number"),
    ("Five ways to save water this dry season.", "number"),
    # story: a moment in time, or first person looking back
    ("Pagi itu, Bu Sri datang ke posyandu membawa cucunya.", "story"),
    ("Kemarin tim kami turun ke lokasi banjir.", "story"),
    ("Suatu hari di Kampung Nelayan, warga bergotong royong.", "story"),
    ("Saya masih ingat waktu pertama kali jadi relawan.", "story"),
    ("Yesterday our team visited the flood shelters.", "story"),
    # bold claim: superlatives, absolutes, an exclamation
    ("Pelayanan KTP tercepat di Jawa Barat ada di kota kita.", "bold_claim"),
    ("Pertama di Indonesia, izin usaha selesai dalam satu jam.", "bold_claim"),
    ("Jangan buang sampah ke sungai", "bold_claim"),
    ("Wajib bawa KTP asli saat pencairan bantuan.", "bold_claim"),
    ("Taman kota dibuka untuk umum!", "bold_claim"),
    ("Satu-satunya layanan 24 jam di kota", "bold_claim"),
    ("The biggest cleanup in the city's history starts Saturday.", "bold_claim"),
    # problem and solution
    ("Susah cari parkir di pusat kota? Kini ada aplikasi ParkirKu.", "problem_solution"),
    ("Antre lama di puskesmas? Kini bisa daftar dari rumah.", "problem_solution"),
    ("Masalah sampah menumpuk di pasar akhirnya ada jalan keluarnya.", "problem_solution"),
    ("Banjir di Jalan Merdeka kini teratasi dengan pompa baru.", "problem_solution"),
    ("Tired of waiting in line? Now you can book online.", "problem_solution"),
    # curiosity: a teaser
    ("Ternyata air rebusan daun sirih tidak menyembuhkan DBD.", "curiosity"),
    ("Rahasia kampung terbersih se-kota akhirnya terungkap", "curiosity"),
    ("Inilah 5 tempat wisata baru di kota kita", "curiosity"),
    ("Ini dia jadwal vaksinasi minggu depan", "curiosity"),
    ("Simak penjelasan Kepala Dinas berikut", "curiosity"),
    ("Ada yang berbeda di alun-alun malam ini... datang dan lihat sendiri", "curiosity"),
    ("Turns out most of the city's waste is organic.", "curiosity"),
    # visual: pointing at a picture or video
    ("Lihat foto keseruan lomba 17-an di balai kota", "visual"),
    ("Tonton video lengkapnya di kanal YouTube kami", "visual"),
    ("📸 Suasana apel pagi di halaman balai kota", "visual"),
    ("🎥 Rekaman sidak pasar pagi ini", "visual"),
    ("Watch the mayor's full speech here", "visual"),
    # nothing fits: left for a person
    ("Pengumuman: pelayanan tutup pada hari libur nasional.", None),
    ("Rapat koordinasi lintas sektor dilaksanakan di aula.", None),
    ("Langkah mudah mengurus akta kelahiran", None),
    ("The office is closed on public holidays.", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), HOOK_EXAMPLES)
def test_the_hook_scorer_reads_the_opening(text, expected):
    assert audit.hook_of(text) == expected


def test_every_hook_key_has_an_example_in_both_languages_and_a_label():
    assert {key for _t, key in HOOK_EXAMPLES} - {None} == set(audit.HOOK_KEYS)
    assert set(audit.HOOK_LABELS) == set(audit.HOOK_KEYS) == set(audit.TIE_ORDER)


def test_the_cue_nearest_the_start_wins():
    # Both have a percentage; what comes first is the hook.
    assert audit.hook_cues("Ternyata 70% warga belum tahu")["number"] > 0
    assert audit.hook_of("Ternyata 70% warga belum tahu") == "curiosity"
    assert audit.hook_of("Tahukah kamu 70% warga belum divaksin?") == "question"
    assert audit.hook_of("70% warga sudah divaksin, ternyata") == "number"


def test_cues_at_the_same_place_are_settled_by_the_documented_order():
    text = "Pernahkah antre lama di puskesmas? Kini bisa daftar dari rumah."
    cues = audit.hook_cues(text)
    # A question answered at once by a solution: both cues open the post.
    assert cues["question"] == cues["problem_solution"] == 0
    assert audit.TIE_ORDER.index("problem_solution") < audit.TIE_ORDER.index("question")
    assert audit.hook_of(text) == "problem_solution"


def test_only_the_opening_counts():
    late = "Rapat koordinasi lintas sektor dilaksanakan di aula. " * 3 + "Tahukah kamu?"
    assert len(late) > audit.OPENING_CHARS
    assert audit.hook_of(late) is None
    # A later sentence of the opening does not make the post a question either.
    assert audit.hook_of("Rapat dilaksanakan di aula. Siapa saja yang hadir?") is None


def test_leading_hashtags_and_emoji_are_skipped_before_the_first_word():
    assert audit.hook_of("#InfoKesehatan 🔴 Tahukah kamu gejala DBD") == "question"


def test_a_post_that_is_nearly_only_a_picture_is_visual():
    assert audit.hook_of("Selamat pagi #PemkotSatu https://satu.go.id", has_media=True) == "visual"
    assert audit.hook_of("Selamat pagi #PemkotSatu https://satu.go.id") is None
    assert audit.hook_of("", has_media=True) == "visual"
    # With enough words, the words decide, picture or not.
    assert audit.hook_of("Rapat koordinasi lintas sektor di aula.", has_media=True) is None


# --- the built-in rubric ---------------------------------------------------------------------


def test_the_hook_rubric_is_made_once_on_first_use(org):
    first = audit.ensure_hook_rubric(org)
    again = audit.ensure_hook_rubric(org)
    assert first.pk == again.pk
    assert first.values == audit.HOOK_KEYS
    assert AuditRubric.objects.filter(organisation=org).count() == 1


def test_its_values_have_labels_and_other_rubrics_show_their_own(org, hook):
    assert audit.value_label(hook, "bold_claim") == "Bold claim"
    own = AuditRubric.objects.create(organisation=org, name="Format", values=["bold_claim"])
    assert audit.value_label(own, "bold_claim") == "bold_claim"


# --- scoring ---------------------------------------------------------------------------------


def test_automatic_scoring_answers_unscored_posts_and_leaves_the_rest(org, editor, hook, bluesky):
    question = published(bluesky, "Tahukah kamu jadwal posyandu?")
    number = published(bluesky, "5 cara mencegah DBD")
    plain = published(bluesky, "Rapat koordinasi di aula.")
    mine = published(bluesky, "Tahukah kamu cara daftar KTP?")
    scored(hook, mine, "story")
    event = InboundEvent.objects.create(
        organisation=org,
        channel=bluesky,
        kind="comment",
        external_id="c1",
        created_at=wib(2026, 11, 3),
    )
    reply = published(bluesky, "Tahukah Bapak, kantor buka jam 8?")
    reply.in_reply_to = event
    reply.save()

    added = actions.score_automatically(hook, by=Actor(user=editor))

    assert added == 2
    values = dict(AuditScore.objects.filter(rubric=hook).values_list("post_id", "value"))
    assert values == {question.pk: "question", number.pk: "number", mine.pk: "story"}
    assert plain.pk not in values and reply.pk not in values
    assert AuditScore.objects.get(post=question).source == "auto"
    (entry,) = AuditEntry.objects.filter(action="analytics.audit.auto_scored")
    assert entry.payload["scored"] == 2
    assert entry.actor == editor


def test_a_second_run_adds_nothing(hook, editor, bluesky):
    published(bluesky, "Tahukah kamu jadwal posyandu?")
    actions.score_automatically(hook, by=Actor(user=editor))
    assert actions.score_automatically(hook, by=Actor(user=editor)) == 0


def test_a_persons_score_replaces_the_automatic_one_and_is_never_overwritten(hook, editor, bluesky):
    post = published(bluesky, "Tahukah kamu jadwal posyandu?")
    actions.score_automatically(hook, by=Actor(user=editor))
    actions.set_score(hook, post, "curiosity", by=Actor(user=editor))
    actions.score_automatically(hook, by=Actor(user=editor))
    score = AuditScore.objects.get(rubric=hook, post=post)
    assert (score.value, score.source, score.scored_by) == ("curiosity", "person", editor)
    entry = AuditEntry.objects.get(action="analytics.audit.scored")
    assert entry.payload["before"] == {"value": "question", "source": "auto"}


def test_only_the_rubrics_values_can_be_set(hook, editor, bluesky):
    post = published(bluesky)
    with pytest.raises(actions.ActionError):
        actions.set_score(hook, post, "meme", by=Actor(user=editor))
    assert not AuditScore.objects.exists()


def test_a_rubric_without_an_automatic_scorer_is_refused(org, editor):
    own = AuditRubric.objects.create(organisation=org, name="Format", values=["video", "foto"])
    with pytest.raises(actions.ActionError):
        actions.score_automatically(own, by=Actor(user=editor))


def test_a_post_with_media_and_almost_no_text_is_scored_visual(org, editor, hook, bluesky):
    asset = MediaAsset(
        organisation=org, kind="image", mime_type="image/png", size=3, sha256="0" * 64
    )
    asset.file.save("a.png", ContentFile(b"png"), save=False)
    asset.save()
    post = make_post(org, editor, [bluesky], text="Selamat pagi!", media=[asset])
    channel_post = published(bluesky, "Selamat pagi!")
    Delivery.objects.create(
        organisation=org,
        post=post,
        variant=post.variants.get(),
        channel=bluesky,
        post_version=post.version,
        due_at=post.created_at,
        status="published",
        channel_post=channel_post,
    )
    without_media = published(bluesky, "Selamat pagi!")
    actions.score_automatically(hook, by=Actor(user=editor))
    assert AuditScore.objects.get(post=channel_post).value == "visual"
    # Without a picture "Selamat pagi!" is only an exclamation.
    assert AuditScore.objects.get(post=without_media).value == "bold_claim"


# --- rubrics ---------------------------------------------------------------------------------


def test_a_rubric_is_saved_with_clean_values_and_one_audit_entry(org, editor):
    rubric = actions.save_rubric(
        org, name=" Format ", values=["video", " foto ", "", "video"], by=Actor(user=editor)
    )
    assert (rubric.name, rubric.values) == ("Format", ["video", "foto"])
    assert AuditEntry.objects.get(action="analytics.audit_rubric.created").payload["values"] == [
        "video",
        "foto",
    ]


def test_the_hook_rubric_keeps_its_built_in_keys_and_takes_more(org, editor, hook):
    actions.save_rubric(org, name="Kait", values=["meme"], rubric=hook, by=Actor(user=editor))
    hook.refresh_from_db()
    assert hook.values == [*audit.HOOK_KEYS, "meme"]
    assert hook.builtin == "hook"


def test_rubric_names_are_unique_in_the_organisation(org, editor, hook):
    with pytest.raises(actions.ActionError):
        actions.save_rubric(org, name=hook.name, values=["a", "b"], by=Actor(user=editor))


# --- results ---------------------------------------------------------------------------------


def row(result, value):
    (found,) = [r for r in result.rows if r.value == value]
    return found


def test_results_give_counts_medians_and_the_organisation_median(org, hook, bluesky, mastodon):
    followers(bluesky, date(2026, 10, 31), 1000)
    for likes in (20, 10, 30):  # 2 %, 1 %, 3 %
        scored(hook, published(bluesky, likes=likes, reposts=0, replies=0, quotes=0), "question")
    for likes in (5, 15):  # 0.5 %, 1.5 %
        scored(hook, published(bluesky, likes=likes), "number")
    scored(hook, published(bluesky), "number")  # no snapshot yet
    scored(hook, published(mastodon, likes=50), "story")  # no follower count
    published(bluesky, likes=40)  # 4 %, not scored

    result = audit.results(org, hook, None)

    question = row(result, "question")
    assert (question.posts, question.measured, question.unmeasured) == (3, 3, 0)
    assert question.median_rate == question.mean_rate == Decimal("2.00")
    assert question.median_engagement == 20
    number = row(result, "number")
    assert (number.posts, number.measured, number.unmeasured) == (3, 2, 1)
    assert (number.median_rate, number.mean_rate) == (Decimal("1.00"), Decimal("1.00"))
    assert number.median_engagement == 10
    story = row(result, "story")
    assert (story.posts, story.measured, story.median_rate) == (1, 0, None)
    assert [r.value for r in result.rows[:3]] == ["question", "number", "story"]
    assert row(result, "visual").posts == 0
    assert (result.posts, result.scored, result.unscored) == (8, 7, 1)
    # 0.5, 1, 1.5, 2, 3, 4: the unscored post counts for the reference too.
    assert (result.measured, result.median_rate) == (6, Decimal("1.75"))


def test_a_value_with_few_posts_carries_a_caution(org, hook, bluesky):
    followers(bluesky, date(2026, 10, 31), 1000)
    for _n in range(audit.SMALL_SAMPLE):
        scored(hook, published(bluesky, likes=10), "question")
    for _n in range(audit.SMALL_SAMPLE - 1):
        scored(hook, published(bluesky, likes=10), "number")
    scored(hook, published(bluesky), "number")  # counted, but without a rate
    result = audit.results(org, hook, None)
    assert row(result, "question").small_sample is False
    assert row(result, "number").posts == audit.SMALL_SAMPLE
    assert row(result, "number").small_sample is True


def test_results_cover_the_organisations_local_days_of_the_period(org, hook, bluesky):
    followers(bluesky, date(2026, 10, 31), 1000)
    last_evening = published(bluesky, at=wib(2026, 11, 30, 23), likes=10)
    next_morning = published(bluesky, at=wib(2026, 12, 1, 6), likes=10)
    scored(hook, last_evening, "question")
    scored(hook, next_morning, "number")
    result = audit.results(org, hook, periods.month(2026, 11))
    assert (row(result, "question").posts, row(result, "number").posts) == (1, 0)
    assert result.posts == 1


def test_a_value_taken_out_of_a_rubric_still_shows_its_posts(org, editor, bluesky):
    rubric = AuditRubric.objects.create(organisation=org, name="Format", values=["video", "foto"])
    scored(rubric, published(bluesky), "foto")
    actions.save_rubric(
        org, name="Format", values=["video", "teks"], rubric=rubric, by=Actor(user=editor)
    )
    result = audit.results(org, rubric, None)
    assert row(result, "foto").in_rubric is False
    assert row(result, "foto").posts == 1


# --- pages -----------------------------------------------------------------------------------


def test_an_analyst_sees_the_results_and_the_hook_rubric_is_there(client, org, analyst, bluesky):
    sign_in(client, analyst)
    response = client.get(reverse("analytics:audit"))
    assert response.status_code == 200
    assert AuditRubric.objects.get(organisation=org, builtin="hook")
    assert b'data-testid="audit-results"' in response.content
    assert b'data-testid="audit-score-auto"' not in response.content


def test_the_results_page_shows_figures_and_the_caution(client, org, analyst, hook, bluesky):
    followers(bluesky, date(2026, 10, 31), 1000)
    scored(hook, published(bluesky, likes=25), "question")
    sign_in(client, analyst)
    response = client.get(reverse("analytics:audit"), {"rubrik": hook.pk})
    html = response.content.decode()
    assert "2.50 %" in html
    assert "small sample: read as a hint, not a finding" in html


def test_a_period_that_cannot_be_read_is_explained(client, analyst, hook):
    sign_in(client, analyst)
    response = client.get(reverse("analytics:audit"), {"dari": "kemarin"})
    assert response.status_code == 200
    assert b'data-testid="audit-period-error"' in response.content


def test_an_editor_scores_a_post_in_its_row_without_a_reload(client, editor, hook, bluesky):
    post = published(bluesky, "Rapat koordinasi")
    sign_in(client, editor)
    response = client.post(
        reverse("analytics:audit_posts", args=[hook.pk]),
        {"post": post.pk, "value": "story"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith("<tr")
    assert b'value="story" selected' in response.content
    assert AuditScore.objects.get(post=post).value == "story"


def test_without_htmx_scoring_comes_back_to_the_same_page(client, editor, hook, bluesky):
    post = published(bluesky)
    sign_in(client, editor)
    response = client.post(
        reverse("analytics:audit_posts", args=[hook.pk]),
        {"post": post.pk, "value": "story", "page": "2", "belum": "1"},
    )
    assert response.status_code == 302
    assert (
        response["Location"] == reverse("analytics:audit_posts", args=[hook.pk]) + "?page=2&belum=1"
    )


def test_an_analyst_may_see_the_posts_but_not_score_them(client, analyst, hook, bluesky):
    post = published(bluesky)
    sign_in(client, analyst)
    page = client.get(reverse("analytics:audit_posts", args=[hook.pk]))
    assert page.status_code == 200
    assert b"audit-value-select" not in page.content
    response = client.post(
        reverse("analytics:audit_posts", args=[hook.pk]), {"post": post.pk, "value": "story"}
    )
    assert response.status_code == 403
    assert not AuditScore.objects.exists()


def test_the_unscored_filter_lists_only_posts_without_a_value(client, editor, hook, bluesky):
    done = published(bluesky, "Sudah dinilai")
    todo = published(bluesky, "Belum dinilai")
    scored(hook, done, "story")
    sign_in(client, editor)
    response = client.get(reverse("analytics:audit_posts", args=[hook.pk]), {"belum": "1"})
    assert f'data-testid="audit-post-{todo.pk}"'.encode() in response.content
    assert f'data-testid="audit-post-{done.pk}"'.encode() not in response.content


def test_post_text_is_shown_as_text_not_html(client, editor, hook, bluesky):
    published(bluesky, '<script>alert("x")</script><b>Tebal</b>')
    sign_in(client, editor)
    response = client.get(reverse("analytics:audit_posts", args=[hook.pk]))
    assert b"<script>alert" not in response.content
    assert b"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;Tebal" in response.content


def test_the_score_button_scores_and_says_how_many(client, editor, hook, bluesky):
    published(bluesky, "Tahukah kamu jadwal posyandu?")
    sign_in(client, editor)
    response = client.post(reverse("analytics:audit_score_auto", args=[hook.pk]), follow=True)
    assert "1 post scored automatically" in response.content.decode()
    assert AuditScore.objects.get().value == "question"


def test_an_editor_makes_a_rubric_and_edits_it(client, org, editor):
    sign_in(client, editor)
    response = client.post(
        reverse("analytics:audit_rubric_create"), {"name": "Format", "values": "video\nfoto\n"}
    )
    assert response.status_code == 302
    rubric = AuditRubric.objects.get(organisation=org, name="Format")
    assert rubric.values == ["video", "foto"]
    client.post(
        reverse("analytics:audit_rubric", args=[rubric.pk]),
        {"name": "Format", "values": "video\nfoto\nteks"},
    )
    rubric.refresh_from_db()
    assert rubric.values == ["video", "foto", "teks"]


def test_a_rubric_with_one_value_is_refused_with_a_reason(client, org, editor):
    sign_in(client, editor)
    response = client.post(reverse("analytics:audit_rubric_create"), {"name": "X", "values": "a"})
    assert response.status_code == 200
    assert b"at least two values" in response.content
    assert not AuditRubric.objects.filter(name="X").exists()


def test_the_hook_rubric_form_shows_the_built_in_values_apart(client, editor, hook):
    sign_in(client, editor)
    response = client.get(reverse("analytics:audit_rubric", args=[hook.pk]))
    assert b'data-testid="audit-builtin-values"' in response.content
    assert b"Problem and solution" in response.content
    assert response.context["form"].initial["values"] == ""


def test_another_organisations_rubric_is_not_found(client, other_org, other_admin, hook):
    sign_in(client, other_admin)
    assert client.get(reverse("analytics:audit_posts", args=[hook.pk])).status_code == 404
    assert client.get(reverse("analytics:audit"), {"rubrik": hook.pk}).status_code == 404
    assert client.post(reverse("analytics:audit_score_auto", args=[hook.pk])).status_code == 404


def test_another_organisations_post_cannot_be_scored(client, other_org, editor, hook):
    theirs = published(make_channel(other_org, "dua.bsky.social", network="bluesky"))
    sign_in(client, editor)
    response = client.post(
        reverse("analytics:audit_posts", args=[hook.pk]), {"post": theirs.pk, "value": "story"}
    )
    assert response.status_code == 404
    assert not AuditScore.objects.exists()


def test_a_unit_agent_sees_no_audit(client, org, unit):
    agent = make_member(org, "agen@satu.go.id", "unit_agent", unit=unit)
    sign_in(client, agent)
    assert client.get(reverse("analytics:audit")).status_code == 403
