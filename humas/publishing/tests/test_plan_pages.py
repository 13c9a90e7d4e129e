"""Pillars, campaigns, the brand kit and the production board, as people use them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Notification, Organisation
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.publishing import actions
from humas.publishing.models import (
    BrandSnippet,
    Campaign,
    Card,
    CardComment,
    Pillar,
    Post,
    PostStatus,
    Stage,
    Variant,
)
from humas.publishing.testing import make_post
from humas.publishing.views_plan import MIX_DAYS

pytestmark = pytest.mark.django_db


@pytest.fixture
def pillar(org, admin):
    return actions.save_pillar(
        org, by=Actor(user=admin), name="Kesehatan", colour="#16a34a", target_share=40
    )


@pytest.fixture
def other_pillar(other_org, other_admin):
    return actions.save_pillar(other_org, by=Actor(user=other_admin), name="Transportasi")


@pytest.fixture
def campaign(org, admin, pillar):
    return actions.save_campaign(
        org,
        by=Actor(user=admin),
        name="Cegah DBD",
        starts_on=date(2026, 12, 1),
        ends_on=date(2026, 12, 31),
        pillar=pillar,
    )


@pytest.fixture
def other_campaign(other_org, other_admin):
    return actions.save_campaign(
        other_org,
        by=Actor(user=other_admin),
        name="Jalan mulus",
        starts_on=date(2026, 12, 1),
        ends_on=date(2026, 12, 31),
    )


@pytest.fixture
def card(org, editor, pillar):
    return actions.save_card(
        org,
        by=Actor(user=editor),
        title="Video fogging RW 05",
        notes="Fogging Sabtu pagi; warga diminta menutup makanan.",
        pillar=pillar,
    )


@pytest.fixture
def other_card(other_org, other_admin):
    return actions.save_card(other_org, by=Actor(user=other_admin), title="Rahasia kota dua")


def _card_form(**overrides):
    data = {
        "title": "Infografis posyandu",
        "notes": "",
        "stage": Stage.IDEA,
        "assignee": "",
        "due_on": "",
        "pillar": "",
        "campaign": "",
    }
    return data | overrides


# --- pillars ------------------------------------------------------------------------------


def test_an_editor_creates_a_pillar_with_a_colour(as_user, editor, org):
    response = as_user(editor).post(
        reverse("publishing:pillar_new"),
        {"name": "Pendidikan", "colour": "#2563EB", "target_share": "30", "is_active": "on"},
    )

    assert response.status_code == 302
    pillar = Pillar.objects.get(organisation=org, name="Pendidikan")
    assert pillar.colour == "#2563eb"
    assert AuditEntry.objects.filter(
        action="publishing.pillar.created", target_id=str(pillar.pk)
    ).exists()


@pytest.mark.parametrize("colour", ["red", "#12345", "#12345g", "2563eb", "#2563eb;x"])
def test_a_pillar_colour_that_is_not_rrggbb_is_refused(as_user, editor, org, colour):
    response = as_user(editor).post(
        reverse("publishing:pillar_new"),
        {"name": "Pendidikan", "colour": colour, "target_share": "10"},
    )

    assert response.status_code == 200
    assert "colour" in response.context["form"].errors
    assert not Pillar.objects.filter(organisation=org, name="Pendidikan").exists()


def test_editing_a_pillar_with_a_bad_colour_keeps_the_old_one(as_user, editor, pillar):
    response = as_user(editor).post(
        reverse("publishing:pillar_edit", args=[pillar.pk]),
        {"name": "Kesehatan", "colour": "green", "target_share": "40", "is_active": "on"},
    )

    assert response.status_code == 200
    assert "colour" in response.context["form"].errors
    pillar.refresh_from_db()
    assert pillar.colour == "#16a34a"


def test_an_editor_changes_a_pillar(as_user, editor, pillar):
    response = as_user(editor).post(
        reverse("publishing:pillar_edit", args=[pillar.pk]),
        {"name": "Kesehatan warga", "colour": "#dc2626", "target_share": "50", "is_active": "on"},
    )

    assert response.status_code == 302
    pillar.refresh_from_db()
    assert (pillar.name, pillar.colour, pillar.target_share) == ("Kesehatan warga", "#dc2626", 50)


def test_a_second_pillar_with_the_same_name_is_a_form_error_not_a_crash(as_user, editor, pillar):
    response = as_user(editor).post(
        reverse("publishing:pillar_new"),
        {"name": "kesehatan", "colour": "#000000", "target_share": "10"},
    )

    assert response.status_code == 200
    assert "name" in response.context["form"].errors


def test_the_pillar_list_shows_target_against_actual_share(
    as_user, analyst, editor, org, pillar, channel
):
    other = actions.save_pillar(org, by=Actor(user=editor), name="Ekonomi", target_share=70)
    post = make_post(org, editor, [channel])
    Post.objects.filter(pk=post.pk).update(
        status=PostStatus.PUBLISHED, published_at=timezone.now(), pillar=pillar
    )

    response = as_user(analyst).get(reverse("publishing:pillar_list"))

    assert response.status_code == 200
    rows = {row.pillar: row for row in response.context["mix"]}
    assert (rows[pillar].target, rows[pillar].share, rows[pillar].posts) == (40, 100, 1)
    assert (rows[other].target, rows[other].share, rows[other].posts) == (70, 0, 0)
    assert 'fill="#16a34a"' in response.content.decode()
    assert b'data-testid="targets-over"' in response.content


def test_the_pillar_list_counts_posts_by_the_organisations_local_day(
    as_user, analyst, editor, org, pillar, channel
):
    # 00:30 in Jayapura yesterday-local is still UTC's day before: the same day boundary as
    # goals, dashboards and reports (humas.publishing.mix), not the server's.
    Organisation.objects.filter(pk=org.pk).update(time_zone="Asia/Jayapura")
    zone = ZoneInfo("Asia/Jayapura")
    today = timezone.now().astimezone(zone).date()
    inside = datetime.combine(today - timedelta(days=MIX_DAYS), time(0, 30), tzinfo=zone)
    outside = inside - timedelta(hours=1)
    for moment in (inside, outside):
        post = make_post(org, editor, [channel])
        Post.objects.filter(pk=post.pk).update(
            status=PostStatus.PUBLISHED, published_at=moment, pillar=pillar
        )

    response = as_user(analyst).get(reverse("publishing:pillar_list"))

    rows = {row.pillar: row for row in response.context["mix"]}
    assert rows[pillar].posts == 1


def test_the_pillar_list_does_not_warn_when_targets_fit_in_100(as_user, editor, pillar):
    response = as_user(editor).get(reverse("publishing:pillar_list"))

    assert response.context["target_total"] == 40
    assert b'data-testid="targets-over"' not in response.content


# --- campaigns ----------------------------------------------------------------------------


def test_an_editor_creates_a_campaign(as_user, editor, org, pillar):
    response = as_user(editor).post(
        reverse("publishing:campaign_new"),
        {
            "name": "Imunisasi anak",
            "goal": "Cakupan imunisasi 95%",
            "starts_on": "2026-12-01",
            "ends_on": "2026-12-20",
            "hashtags": "#AnakSehat",
            "link": "https://satu.go.id/imunisasi",
            "pillar": pillar.pk,
        },
    )

    assert response.status_code == 302
    campaign = Campaign.objects.get(organisation=org)
    assert (campaign.slug, campaign.pillar) == ("imunisasi-anak", pillar)


def test_a_campaign_that_ends_before_it_starts_is_a_form_error(as_user, editor, org):
    response = as_user(editor).post(
        reverse("publishing:campaign_new"),
        {"name": "Terbalik", "starts_on": "2026-12-20", "ends_on": "2026-12-01"},
    )

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not Campaign.objects.filter(organisation=org).exists()


def test_a_campaign_cannot_use_another_organisations_pillar(as_user, editor, org, other_pillar):
    response = as_user(editor).post(
        reverse("publishing:campaign_new"),
        {
            "name": "Curang",
            "starts_on": "2026-12-01",
            "ends_on": "2026-12-02",
            "pillar": other_pillar.pk,
        },
    )

    assert response.status_code == 200
    assert "pillar" in response.context["form"].errors


def test_the_campaign_list_counts_each_campaigns_posts(
    as_user, analyst, editor, org, campaign, channel
):
    for _n in range(2):
        post = make_post(org, editor, [channel])
        Post.objects.filter(pk=post.pk).update(campaign=campaign)

    response = as_user(analyst).get(reverse("publishing:campaign_list"))

    assert response.status_code == 200
    assert [c.post_count for c in response.context["campaigns"]] == [2]


def test_an_editor_changes_a_campaign(as_user, editor, campaign):
    response = as_user(editor).post(
        reverse("publishing:campaign_edit", args=[campaign.pk]),
        {"name": "Cegah DBD", "starts_on": "2026-12-01", "ends_on": "2027-01-15"},
    )

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.ends_on == date(2027, 1, 15)


# --- brand kit ----------------------------------------------------------------------------


def test_snippets_are_added_changed_and_removed_with_an_audit_entry_each(as_user, editor, org):
    client = as_user(editor)

    client.post(
        reverse("publishing:snippet_new"),
        {"kind": "hashtags", "name": "Kesehatan", "text": "#KotaSehat #CegahDBD"},
    )
    snippet = BrandSnippet.objects.get(organisation=org)
    client.post(
        reverse("publishing:snippet_edit", args=[snippet.pk]),
        {"kind": "hashtags", "name": "Kesehatan", "text": "#KotaSehat"},
    )
    snippet.refresh_from_db()
    assert snippet.text == "#KotaSehat"
    page = client.get(reverse("publishing:brand_kit"))
    assert b"#KotaSehat" in page.content
    client.post(reverse("publishing:snippet_delete", args=[snippet.pk]))

    assert not BrandSnippet.objects.filter(organisation=org).exists()
    actions_logged = list(
        AuditEntry.objects.filter(organisation=org, action__startswith="publishing.brand_kit.")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions_logged == [
        "publishing.brand_kit.created",
        "publishing.brand_kit.updated",
        "publishing.brand_kit.deleted",
    ]


def test_a_snippet_is_only_removed_by_post(as_user, editor, org):
    snippet = actions.save_snippet(
        org, by=Actor(user=editor), kind="signature", name="Salam", text="Salam sehat!"
    )

    response = as_user(editor).get(reverse("publishing:snippet_delete", args=[snippet.pk]))

    assert response.status_code == 405
    assert BrandSnippet.objects.filter(pk=snippet.pk).exists()


# --- the production board -----------------------------------------------------------------


def test_an_editor_puts_a_card_on_the_board(as_user, editor, org, pillar):
    response = as_user(editor).post(
        reverse("publishing:card_new"),
        _card_form(assignee=editor.pk, due_on="2026-12-03", pillar=pillar.pk),
    )

    assert response.status_code == 302
    card = Card.objects.get(organisation=org)
    assert (card.title, card.assignee, card.created_by) == ("Infografis posyandu", editor, editor)
    assert AuditEntry.objects.filter(
        action="publishing.card.created", target_id=str(card.pk)
    ).exists()


def test_the_board_shows_cards_in_their_stage_column(as_user, analyst, editor, card, org):
    actions.comment_on_card(card, by=Actor(user=editor), text="Siapkan naskah")
    actions.save_card(
        org,
        by=Actor(user=editor),
        title="Siaran pers banjir",
        stage=Stage.EDITING,
        due_on=timezone.localdate() - timedelta(days=2),
    )

    response = as_user(analyst).get(reverse("publishing:board"))

    assert response.status_code == 200
    columns = {c["stage"]: c["cards"] for c in response.context["columns"]}
    assert [c.title for c in columns[Stage.IDEA]] == ["Video fogging RW 05"]
    assert columns[Stage.IDEA][0].comment_count == 1
    assert columns[Stage.EDITING][0].overdue is True
    assert columns[Stage.IDEA][0].overdue is False
    assert list(columns) == list(Stage.values)


def test_moving_a_card_with_htmx_answers_with_the_board(as_user, editor, card):
    response = as_user(editor).post(
        reverse("publishing:card_move", args=[card.pk]),
        {"stage": Stage.SCRIPT},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert b'id="board"' in response.content
    assert b"<html" not in response.content
    card.refresh_from_db()
    assert card.stage == Stage.SCRIPT
    entry = AuditEntry.objects.filter(action="publishing.card.updated").latest("seq")
    assert entry.payload["stage"] == {"from": "idea", "to": "script"}


def test_moving_a_card_without_htmx_goes_back_to_the_board(as_user, editor, card):
    response = as_user(editor).post(
        reverse("publishing:card_move", args=[card.pk]), {"stage": Stage.RECORDING}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("publishing:board")
    card.refresh_from_db()
    assert card.stage == Stage.RECORDING


def test_an_unknown_stage_is_shown_as_an_error(as_user, editor, card):
    response = as_user(editor).post(
        reverse("publishing:card_move", args=[card.pk]),
        {"stage": "launched"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert response.context["error"]
    card.refresh_from_db()
    assert card.stage == Stage.IDEA


def test_assigning_a_card_to_a_member_notifies_them(as_user, editor, admin, card, org):
    response = as_user(editor).post(
        reverse("publishing:card", args=[card.pk]),
        _card_form(title=card.title, notes=card.notes, assignee=admin.pk),
    )

    assert response.status_code == 302
    card.refresh_from_db()
    assert card.assignee == admin
    assert Notification.objects.filter(user=admin, kind="publishing.card_assigned").exists()


def test_a_card_cannot_be_assigned_to_someone_from_another_organisation(
    as_user, editor, other_admin, card
):
    response = as_user(editor).post(
        reverse("publishing:card", args=[card.pk]),
        _card_form(title=card.title, assignee=other_admin.pk),
    )

    assert response.status_code == 200
    assert "assignee" in response.context["form"].errors
    card.refresh_from_db()
    assert card.assignee is None


def test_a_card_cannot_be_assigned_to_a_deactivated_member(as_user, editor, org, card):
    gone = make_member(org, "pensiun@satu.go.id", Role.EDITOR)
    gone.memberships.update(is_active=False)

    response = as_user(editor).post(
        reverse("publishing:card", args=[card.pk]), _card_form(title=card.title, assignee=gone.pk)
    )

    assert "assignee" in response.context["form"].errors


def test_members_comment_on_a_card(as_user, editor, card):
    client = as_user(editor)

    response = client.post(
        reverse("publishing:card_comment", args=[card.pk]), {"text": "Naskah sudah siap"}
    )

    assert response.status_code == 302
    assert list(card.comments.values_list("text", flat=True)) == ["Naskah sudah siap"]
    page = client.get(reverse("publishing:card", args=[card.pk]))
    assert b"Naskah sudah siap" in page.content


def test_an_empty_comment_is_refused(as_user, editor, card):
    as_user(editor).post(reverse("publishing:card_comment", args=[card.pk]), {"text": "  "})

    assert not CardComment.objects.filter(card=card).exists()


def test_a_card_turns_into_a_draft_post_with_its_text(as_user, editor, card, channel, pillar):
    response = as_user(editor).post(reverse("publishing:card_to_post", args=[card.pk]))

    card.refresh_from_db()
    post = card.post
    assert post is not None
    assert response.status_code == 302
    assert response["Location"] == f"/konten/{post.pk}/ubah/"
    assert (post.title, post.text, post.pillar, post.status) == (
        "Video fogging RW 05",
        "Fogging Sabtu pagi; warga diminta menutup makanan.",
        pillar,
        PostStatus.DRAFT,
    )
    assert list(Variant.objects.filter(post=post).values_list("channel", "text")) == [
        (channel.pk, card.notes)
    ]


def test_a_card_that_already_has_a_post_does_not_get_a_second_one(as_user, editor, card, channel):
    client = as_user(editor)
    client.post(reverse("publishing:card_to_post", args=[card.pk]))

    response = client.post(reverse("publishing:card_to_post", args=[card.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("publishing:card", args=[card.pk])
    assert Post.objects.filter(organisation=card.organisation).count() == 1


# --- access -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fixture"),
    [
        ("publishing:card", "other_card"),
        ("publishing:pillar_edit", "other_pillar"),
        ("publishing:campaign_edit", "other_campaign"),
    ],
)
def test_another_organisations_objects_are_not_found(as_user, editor, request, name, fixture):
    obj = request.getfixturevalue(fixture)

    response = as_user(editor).get(reverse(name, args=[obj.pk]))

    assert response.status_code == 404


@pytest.mark.parametrize(
    "name", ["publishing:card_move", "publishing:card_comment", "publishing:card_to_post"]
)
def test_another_organisations_card_cannot_be_changed(as_user, editor, other_card, name):
    response = as_user(editor).post(
        reverse(name, args=[other_card.pk]), {"stage": "script", "text": "x"}
    )

    assert response.status_code == 404
    other_card.refresh_from_db()
    assert other_card.stage == Stage.IDEA
    assert not other_card.comments.exists()


@pytest.mark.parametrize(
    "name",
    [
        "publishing:board",
        "publishing:card",
        "publishing:pillar_list",
        "publishing:campaign_list",
        "publishing:brand_kit",
    ],
)
def test_an_analyst_can_look(as_user, analyst, card, name):
    args = [card.pk] if name == "publishing:card" else []

    response = as_user(analyst).get(reverse(name, args=args))

    assert response.status_code == 200
    # No buttons to create, move or comment: they would only answer 403.
    for url_part in (b"/baru/", b"/pindah/", b"/komentar/", b"/jadi-konten/"):
        assert url_part not in response.content


@pytest.mark.parametrize(
    ("name", "args", "data"),
    [
        ("publishing:card_new", False, {"title": "x", "stage": "idea"}),
        ("publishing:card", True, {"title": "x", "stage": "idea"}),
        ("publishing:card_move", True, {"stage": "script"}),
        ("publishing:card_comment", True, {"text": "boleh?"}),
        ("publishing:card_to_post", True, {}),
        ("publishing:pillar_new", False, {"name": "x", "colour": "#000000", "target_share": 1}),
        ("publishing:snippet_new", False, {"kind": "tone", "name": "x", "text": "y"}),
        (
            "publishing:campaign_new",
            False,
            {"name": "x", "starts_on": "2026-12-01", "ends_on": "2026-12-02"},
        ),
    ],
)
def test_an_analyst_cannot_change_anything(as_user, analyst, card, name, args, data):
    response = as_user(analyst).post(reverse(name, args=[card.pk] if args else []), data)

    assert response.status_code == 403
    card.refresh_from_db()
    assert (card.title, card.stage, card.post_id) == ("Video fogging RW 05", Stage.IDEA, None)
    assert not card.comments.exists()
    assert not Pillar.objects.filter(name="x").exists()


@pytest.mark.parametrize(
    ("name", "fixture"),
    [
        ("publishing:pillar_new", None),
        ("publishing:pillar_edit", "pillar"),
        ("publishing:campaign_new", None),
        ("publishing:campaign_edit", "campaign"),
        ("publishing:snippet_new", None),
        ("publishing:card_new", None),
        ("publishing:card", "card"),
    ],
)
def test_an_editor_opens_every_form(as_user, editor, request, name, fixture):
    args = [request.getfixturevalue(fixture).pk] if fixture else []

    response = as_user(editor).get(reverse(name, args=args))

    assert response.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in response.content


def test_an_analyst_cannot_open_the_forms(as_user, analyst, pillar, campaign):
    client = as_user(analyst)

    for url in (
        reverse("publishing:pillar_new"),
        reverse("publishing:pillar_edit", args=[pillar.pk]),
        reverse("publishing:campaign_edit", args=[campaign.pk]),
        reverse("publishing:card_new"),
    ):
        assert client.get(url).status_code == 403, url
