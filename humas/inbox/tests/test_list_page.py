"""The inbox list: one list across channels, filters, search, order, masking, scoping."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from humas.accounts import actions as account_actions
from humas.accounts.audit import Actor
from humas.accounts.models import Notification, Organisation
from humas.accounts.roles import PERMISSIONS, Role
from humas.accounts.testing import SYSTEM, make_member
from humas.inbox import actions
from humas.inbox.models import Conversation
from humas.inbox.tests.conftest import WEDNESDAY, citizen_event
from humas.publishing.testing import make_channel

pytestmark = pytest.mark.django_db

URL = reverse("inbox:list")


def rows(client, **query):
    response = client.get(URL, query)
    assert response.status_code == 200
    shown = {c.pk: c for c in Conversation.objects.all()}
    return [shown[item["pk"]] for item in response.context["items"]]


def test_it_lists_conversations_of_every_channel(as_user, responder, say, org):
    second = make_channel(org, "dinkes-satu")
    a = say("Jalan rusak")
    b = say("Posyandu kapan buka?", on=second)
    assert set(rows(as_user(responder))) == {a, b}


def test_emergencies_are_on_top_in_the_urgent_order(as_user, responder, say, labels):
    labels["#low"] = {"urgency": "low"}
    labels["#sos"] = {"category": "emergency", "urgency": "critical"}
    older_emergency = say("Banjir, ada anak terjebak #sos", author="a")
    say("Jalan rusak", author="b", at=WEDNESDAY + timedelta(hours=2))
    say("Info saja #low", author="c", at=WEDNESDAY + timedelta(hours=3))
    found = rows(as_user(responder))
    assert found[0] == older_emergency
    assert found[-1].urgency == "low"
    newest = rows(as_user(responder), order="newest", status="open")
    assert newest[0].contact.handle == "@c"


def test_the_filters_narrow_the_list(as_user, responder, say, labels, org, unit):
    labels["#complaint"] = {"category": "complaint", "sentiment": "negative"}
    labels["#question"] = {"category": "information_request", "sentiment": "neutral"}
    complaint = say("Jalan rusak #complaint", author="a")
    question = say("Syarat KTP apa? #question", author="b")
    client = as_user(responder)
    assert rows(client, category="complaint") == [complaint]
    assert rows(client, sentiment="neutral") == [question]
    assert rows(client, channel=complaint.channel_id, status="") != []
    actions.route_conversation(question, unit, by=Actor(user=responder))
    actions.assign_conversation(complaint, responder, by=Actor(user=responder))
    assert rows(client, unit=unit.pk) == [question]
    assert rows(client, assignee=responder.pk) == [complaint]
    actions.resolve_conversation(complaint, by=Actor(user=responder))
    assert rows(client) == [question], "open conversations by default"
    assert rows(client, status="resolved") == [complaint]
    assert set(rows(client, status="")) == {complaint, question}
    assert rows(client, language="id", status="") != []
    assert rows(client, language="jv", status="") == []


def test_the_deadline_filter_finds_what_is_overdue(as_user, responder, say):
    old = say("Jalan rusak", author="a")  # weeks ago: overdue
    client = as_user(responder)
    assert rows(client, deadline="breached") == [old]
    assert rows(client, deadline="ok") == []
    page = client.get(URL).content.decode()
    assert 'data-state="breached"' in page


def test_search_finds_words_in_messages_and_citizens(as_user, responder, say):
    road = say("Jalan rusak di Kelurahan Sukamaju", author="a")
    light = say("Lampu jalan mati", author="sari")
    client = as_user(responder)
    assert rows(client, q="sukamaju") == [road]
    assert set(rows(client, q="jalan")) == {road, light}
    assert rows(client, q="sari") == [light]
    assert rows(client, q="tidak ada") == []


def test_abuse_and_spam_are_hidden_unless_asked_for(as_user, responder, say, labels):
    labels.real.update({"dasar goblok pemkot", "slot gacor maxwin daftar di bit.ly/xx"})
    rude = say("dasar goblok pemkot", author="a")
    spam = say("slot gacor maxwin daftar di bit.ly/xx", author="b")
    polite = say("Jalan rusak", author="c")
    client = as_user(responder)
    assert rows(client) == [polite]
    assert set(rows(client, show_hidden="on", status="open")) == {rude, spam, polite}
    assert rows(client, category="spam") == [spam]


def test_new_messages_arrive_through_the_polled_fragment(as_user, responder, say):
    client = as_user(responder)
    page = client.get(URL).content.decode()
    assert 'hx-trigger="every 10s"' in page
    say("Pesan baru masuk")
    fragment = client.get(URL, {"fragment": "rows"}, headers={"HX-Request": "true"})
    body = fragment.content.decode()
    assert "Pesan baru masuk" in body
    assert "<html" not in body
    assert body.count("fragment=rows") == 1


def test_the_default_pages_refresh_and_later_pages_keep_the_default_filters(
    as_user, responder, say, org
):
    done = say("Sudah selesai", author="a")
    actions.resolve_conversation(done, by=Actor.system("test"))
    say("Masih terbuka", author="b")
    client = as_user(responder)
    # The first visit (/inbox/, no query): its refresh link carries nothing but "fragment",
    # and a later page nothing but "page"; both still mean "open, most urgent first".
    for query in ({"fragment": "rows"}, {"page": "1"}, {"fragment": "rows", "page": "1"}):
        body = client.get(URL, query, headers={"HX-Request": "true"}).content.decode()
        assert "Masih terbuka" in body
        assert "Sudah selesai" not in body, query


def test_personal_data_is_masked_for_roles_without_the_right(as_user, responder, say, monkeypatch):
    say("Hubungi saya di 081234567890 ya min")
    assert "081234567890" in as_user(responder).get(URL).content.decode()
    # Every role that reaches the inbox may see personal data today; take the right away
    # from responders to show the page follows the matrix.
    monkeypatch.setitem(PERMISSIONS, "personal_data.view", (frozenset({Role.ADMIN}), "test"))
    page = as_user(responder).get(URL).content.decode()
    assert "081234567890" not in page


def test_a_unit_agent_sees_only_conversations_routed_to_their_unit(
    as_user, responder, agent, unit, say
):
    ours = say("Puskesmas tutup", author="a")
    say("Jalan rusak", author="b")
    actions.route_conversation(ours, unit, by=Actor(user=responder))
    assert rows(as_user(agent), status="") == [ours]
    # Filtering by another unit's id shows nothing more.
    assert rows(as_user(agent), unit="999999", status="") == [ours]


def test_members_without_the_inbox_cannot_open_it(as_user, analyst, editor):
    assert as_user(analyst).get(URL).status_code == 403
    assert as_user(editor).get(URL).status_code == 403


def test_one_organisation_never_sees_anothers_conversations(
    as_user, other_admin, other_channel, say
):
    say("Rahasia Kota Satu")
    theirs = say("Urusan Kota Dua", on=other_channel)
    client = as_user(other_admin)
    assert rows(client, status="") == [theirs]
    assert "Rahasia Kota Satu" not in client.get(URL, {"q": "Rahasia"}).content.decode()


def test_a_filter_naming_another_organisations_channel_or_member_is_not_applied(
    as_user, responder, other_admin, other_channel, say
):
    ours = say("Jalan rusak")
    say("Urusan Kota Dua", on=other_channel)
    client = as_user(responder)
    # Not in the menus, so not a valid choice: the list keeps its defaults.
    assert rows(client, channel=other_channel.pk) == [ours]
    assert rows(client, assignee=other_admin.pk) == [ours]
    assert rows(client, channel="abc") == [ours]


def test_html_in_messages_is_shown_as_text(as_user, responder, say):
    say('<script>alert("x")</script><img src=x onerror=alert(1)> jalan rusak')
    page = as_user(responder).get(URL).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page
    assert "<img src=x" not in page


def test_the_nav_links_to_the_inbox_for_those_who_may_open_it(as_user, responder, analyst):
    assert 'data-testid="inbox-link"' in as_user(responder).get(URL).content.decode()
    home = as_user(analyst).get(reverse("home")).content.decode()
    assert 'data-testid="inbox-link"' not in home


def test_a_huge_message_does_not_break_the_list(as_user, responder, receive):
    receive(citizen_event("x" * 100_000), citizen_event("😀" * 20, author="e"))
    assert len(rows(as_user(responder))) == 2


def menu(client, name):
    """The (value, label) options of one filter menu, as the page shows them."""
    page = client.get(URL).content.decode()
    select = re.search(rf'<select name="{name}".*?</select>', page, re.S)
    assert select is not None
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(0))


def test_the_filter_menus_follow_channels_units_and_members_as_they_change(
    as_user, admin, responder, org, unit, channel
):
    client = as_user(responder)
    assert (str(unit.pk), "Dinas Kesehatan") in menu(client, "unit")
    # Kept between requests, and read again as soon as something they show changes.
    second = account_actions.create_unit(org, name="Dinas Sosial", code="dinsos", by=SYSTEM)
    assert (str(second.pk), "Dinas Sosial") in menu(client, "unit")
    account_actions.update_unit(
        unit, by=Actor(user=admin), name="Dinas Kesehatan Kota", code="dinkes", description=""
    )
    assert (str(unit.pk), "Dinas Kesehatan Kota") in menu(client, "unit")
    account_actions.delete_unit(second, by=Actor(user=admin))
    assert str(second.pk) not in dict(menu(client, "unit"))

    newcomer = make_member(org, "baru@satu.go.id", Role.RESPONDER)
    assert (str(newcomer.pk), "Baru") in menu(client, "assignee")
    newcomer.full_name = "Petugas Baru"
    newcomer.save()
    assert (str(newcomer.pk), "Petugas Baru") in menu(client, "assignee")
    account_actions.change_member(
        newcomer.memberships.get(),
        by=Actor(user=admin),
        role=Role.RESPONDER,
        unit=None,
        is_active=False,
    )
    assert str(newcomer.pk) not in dict(menu(client, "assignee"))

    assert dict(menu(client, "channel"))[str(channel.pk)].startswith(channel.handle)
    channel.display_name = "Pemkot Satu Resmi"
    channel.save()
    assert dict(menu(client, "channel"))[str(channel.pk)].startswith("Pemkot Satu Resmi")
    other = make_channel(org, "pemkot-tiga")
    assert str(other.pk) in dict(menu(client, "channel"))
    other.delete()
    assert str(other.pk) not in dict(menu(client, "channel"))


def test_the_menus_are_read_once_until_a_unit_channel_or_member_changes(
    as_user, responder, org, unit, channel
):
    client = as_user(responder)
    client.get(URL)
    with CaptureQueriesContext(connection) as first:
        client.get(URL)
    menus_read = [
        q["sql"] for q in first.captured_queries if q["sql"].startswith('SELECT "accounts_unit"')
    ]
    assert menus_read == [], "the unit menu came from the process's copy"
    account_actions.create_unit(org, name="Dinas Sosial", code="dinsos", by=SYSTEM)
    with CaptureQueriesContext(connection) as after:
        client.get(URL)
    menus_read = [
        q["sql"] for q in after.captured_queries if q["sql"].startswith('SELECT "accounts_unit"')
    ]
    assert len(menus_read) == 1, "read again after a new unit"


def test_saving_what_menus_do_not_show_keeps_the_cache_stamp(org, channel, responder):
    stamp = Organisation.objects.get(pk=org.pk).cache_stamp
    channel.inbound_cursor = "abc"
    channel.save(update_fields=["inbound_cursor"])
    responder.last_login = timezone.now()
    responder.save(update_fields=["last_login"])
    assert Organisation.objects.get(pk=org.pk).cache_stamp == stamp


def test_a_unit_agents_unit_menu_is_their_unit_alone_after_an_admin_looked(
    as_user, admin, agent, unit, org
):
    account_actions.create_unit(org, name="Dinas Sosial", code="dinsos", by=SYSTEM)
    assert len(menu(as_user(admin), "unit")) == 3  # "All" and both units
    assert menu(as_user(agent), "unit") == [("", "All"), (str(unit.pk), "Dinas Kesehatan")]


def test_the_unread_badge_counts_the_members_own_unread_notifications(
    as_user, responder, admin, org, other_org
):
    account_actions.notify(org, [responder], kind="test", title="Satu")
    account_actions.notify(org, [responder], kind="test", title="Dua")
    account_actions.notify(org, [admin], kind="test", title="Bukan untuknya")
    page = as_user(responder).get(URL).content.decode()
    badge = re.search(r'data-testid="notifications-link">[^<]*<span class="badge bad">(\d+)<', page)
    assert badge is not None and badge.group(1) == "2"
    Notification.objects.filter(user=responder).update(read_at=timezone.now())
    page = as_user(responder).get(URL).content.decode()
    assert 'notifications-link">Notifications</a>' in page


@pytest.mark.postgres
def test_on_postgresql_search_understands_phrases_and_exclusions(as_user, responder, say):
    road = say("Jalan rusak di Kelurahan Sukamaju", author="a")
    say("Lampu jalan mati", author="b")
    client = as_user(responder)
    assert rows(client, q="jalan -lampu") == [road]
    assert rows(client, q='"rusak di kelurahan"') == [road]


@pytest.mark.parametrize("value", ["", "high", None, "nothing-like-it"])
def test_the_filter_menus_are_the_same_html_as_djangos_own_select(value):
    from django import forms

    from humas.inbox.forms import FastSelect

    choices = [("", "All"), ("critical", "Kritis <b>"), ("high", 'Tinggi & "segera"')]
    attrs = {"id": "id_urgency", "data-x": "1"}
    ours = FastSelect(choices=choices).render("urgency", value, attrs=attrs)
    django = forms.Select(choices=choices).render("urgency", value, attrs=attrs)
    assert ours == django


@pytest.mark.parametrize("value", ["", "banjir <b>", 'kata "kutip" & lain', None])
def test_the_search_box_is_the_same_html_as_djangos_own_input(value):
    from django import forms

    from humas.inbox.forms import FastTextInput

    attrs = {"id": "id_q", "maxlength": "200", "required": False, "autofocus": True}
    ours = FastTextInput().render("q", value, attrs=attrs)
    assert ours == forms.TextInput().render("q", value, attrs=attrs)


@pytest.mark.parametrize("value", [True, False, None, "on"])
def test_the_tick_box_is_the_same_html_as_djangos_own_checkbox(value):
    from django import forms

    from humas.inbox.forms import FastCheckbox

    attrs = {"id": "id_show_hidden"}
    ours = FastCheckbox().render("show_hidden", value, attrs=attrs)
    assert ours == forms.CheckboxInput().render("show_hidden", value, attrs=attrs)


@pytest.mark.parametrize(
    "data",
    [None, {"q": 'banjir "<b>"', "status": "", "channel": "1", "show_hidden": "on"}, {"unit": "x"}],
)
def test_the_filter_fields_are_the_html_the_template_loop_wrote(data):
    from django.template import Context, Template

    from humas.inbox.forms import InboxFilterForm

    menus = {"channel": ((1, "Kanal <1>"),), "unit": ((2, "Dinas & Co"),), "assignee": ()}
    form = InboxFilterForm(data, initial=InboxFilterForm.DEFAULTS, menus=menus)
    template = Template(InboxFilterForm.FIELDS_TEMPLATE)
    assert form.fields_html() == template.render(Context({"form": form}))
