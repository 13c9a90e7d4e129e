"""The whole inbox loop in a browser, against a real local Bluesky network.

An administrator writes a routing rule on the rules page (complaints about "jalan rusak" go
to Dinas Pekerjaan Umum) and tries it on a sample message. humas publishes a post on the
agency's Bluesky account; a citizen, an account of its own on the local network, replies to
it with a complaint. The worker's polling job fetches the reply: it is triaged (complaint),
routed by the rule to the unit and made a case with a tracking number. A responder sees it
in the inbox, reads it beside our post and answers from the reply box; the answer is on
Bluesky under the citizen's post. The unit's agent, in a browser of their own, finds the
case in their Cases list, moves it on and resolves it with a public note; the citizen gets
the resolution, with the tracking number, as a reply on Bluesky; the public status page
answers "resolved" for that number to anyone, without personal data.

Bluesky is the real server software (``bluesky_network``). Members sign in with a password
and a TOTP code (the organisation requires 2FA) and chose the English interface; the citizen
on the status page gets the default, Indonesian one.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from atproto import models
from django.utils import translation

from humas.accounts import actions as accounts
from humas.accounts.audit import Actor
from humas.accounts.roles import Role
from humas.accounts.testing import SYSTEM, confirmed_device, make_member, make_org, totp_now
from humas.channels.actions import connect_channel, publish_to_channel
from humas.channels.jobs import poll_due_channels
from humas.channels.models import InboundEvent
from humas.channels.providers.base import EventKind, PostContent
from humas.channels.providers.bluesky.tests.network import Person, timings, wait_for
from humas.inbox.models import (
    Case,
    CaseStatus,
    Category,
    Conversation,
    Direction,
    RoutingRule,
    SendStatus,
    Status,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "sungai-jernih-bukit-tujuh"
UNIT = "Dinas Pekerjaan Umum"
RULE = "Jalan rusak ke DPU"
OUR_POST = (
    "Perbaikan jalan lingkungan di Kecamatan Sukamaju dimulai pekan depan. "
    "Ada kerusakan di sekitar Anda? Balas di sini ya. #LayananPublik"
)
COMPLAINT = (
    "Min, jalan rusak parah di Jl. Melati RT 03, motor saya jatuh kemarin. Tolong diperbaiki 🙏"
)
CITIZEN_NAME = "Budi Santoso"
ANSWER = (
    "Terima kasih laporannya, Pak Budi. Sudah kami teruskan ke Dinas Pekerjaan Umum; "
    "petugas akan mengecek lokasinya."
)
PUBLIC_NOTE = "Lubang jalan sudah ditambal oleh tim Dinas Pekerjaan Umum."


@pytest.fixture
def open_page(browser, live_server) -> Iterator[Callable[[], Any]]:
    """Another browser (its own cookies), for a second person at the same time."""
    contexts = []

    def _open() -> Any:
        context = browser.new_context(base_url=live_server.url, locale="en-US")
        contexts.append(context)
        page = context.new_page()
        page.console_messages = []
        page.on("console", lambda msg: page.console_messages.append(msg.text))
        return page

    yield _open
    for context in contexts:
        context.close()


def _sign_in(page: Any, email: str, device: Any) -> None:
    """Password, then the authenticator's code (the organisation requires 2FA)."""
    page.goto("/masuk/")
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form[method=post] .actions button[type=submit]").click()
    page.wait_for_url("**/2fa/verifikasi/**")
    page.locator("input[name=code]").fill(totp_now(device))
    page.locator("main form[method=post] .actions button[type=submit]").click()
    page.wait_for_selector("[data-testid=home-title]")


def _no_csp_violations(page: Any) -> None:
    blocked = [m for m in page.console_messages if "Content Security Policy" in m]
    assert blocked == [], blocked


def _notifications(person: Person) -> list[Any]:
    return person.client.app.bsky.notification.list_notifications(
        models.AppBskyNotificationListNotifications.Params(limit=50)
    ).notifications


def _reply_to(person: Person, parent_uri: str, containing: str) -> Any:
    """The reply notification ``person`` got under their post ``parent_uri`` whose text
    contains ``containing``, or None while the AppView has not indexed it."""
    for n in _notifications(person):
        record = n.record
        if (
            n.reason == "reply"
            and containing in record.text
            and record.reply is not None
            and record.reply.parent.uri == parent_uri
        ):
            return n
    return None


def test_a_citizens_reply_is_triaged_routed_answered_and_resolved_on_bluesky(
    page, open_page, artifacts, bluesky_network
):
    started = time.monotonic()
    pds = bluesky_network["pds"]
    suffix = secrets.token_hex(3)

    # --- set up: the organisation, its unit, its people, its Bluesky channel -------------
    org = make_org("Pemerintah Kota Sukamaju", require_2fa=True)
    unit = accounts.create_unit(org, name=UNIT, code="dpu", by=SYSTEM)
    admin = make_member(org, "admin@sukamaju.go.id", Role.ADMIN, password=PASSWORD)
    responder = make_member(org, "rina@sukamaju.go.id", Role.RESPONDER, password=PASSWORD)
    agent = make_member(
        org, "petugas.dpu@sukamaju.go.id", Role.UNIT_AGENT, unit=unit, password=PASSWORD
    )
    devices = {}
    for person in (admin, responder, agent):
        person.language = "en"
        person.save()
        devices[person.email] = confirmed_device(person)

    agency = Person(pds, "pemkot", suffix)
    citizen = Person(pds, "budi", suffix)
    citizen.client.com.atproto.repo.put_record(
        models.ComAtprotoRepoPutRecord.Data(
            repo=citizen.did,
            collection="app.bsky.actor.profile",
            rkey="self",
            record=models.AppBskyActorProfile.Record(display_name=CITIZEN_NAME),
        )
    )
    app_password = agency.client.com.atproto.server.create_app_password(
        models.ComAtprotoServerCreateAppPassword.Data(name="humas")
    ).password
    channel = connect_channel(
        org,
        "bluesky",
        {"service": pds, "handle": agency.handle, "app_password": app_password},
        by=Actor(user=admin),
    )

    # --- 1. the administrator writes the routing rule in the browser, and tries it ---------
    _sign_in(page, admin.email, devices[admin.email])
    page.get_by_test_id("inbox-link").click()
    page.get_by_test_id("inbox-links").get_by_role("link", name="Routing rules").click()
    page.get_by_test_id("rule-new").click()
    form = page.get_by_test_id("rule-form")
    form.get_by_label("Name:", exact=True).fill(RULE)
    form.get_by_label("Complaint", exact=True).check()
    form.get_by_label("Keywords").fill("jalan rusak\njalan berlubang")
    form.get_by_label("Route to unit").select_option(label=UNIT)
    form.get_by_role("button", name="Save").click()
    page.get_by_test_id("rules").get_by_test_id("rule").filter(has_text=RULE).wait_for()
    rule = RoutingRule.objects.get(organisation=org)
    assert (rule.name, rule.categories, rule.unit) == (RULE, [Category.COMPLAINT], unit)
    assert rule.keyword_list == ["jalan rusak", "jalan berlubang"]

    tester = page.get_by_test_id("rule-test-form")
    tester.get_by_label("Sample message").fill(COMPLAINT)
    tester.get_by_role("button", name="Test").click()
    matched = page.get_by_test_id("rule-matched")
    matched.wait_for()
    assert RULE in matched.inner_text()
    assert "Complaint" in page.get_by_test_id("rule-test").inner_text()
    page.screenshot(path=str(artifacts / "inbox-routing-rule.png"), full_page=True)
    _no_csp_violations(page)

    # --- 2. humas posts on Bluesky; the citizen replies with a complaint --------------------
    step = time.monotonic()
    ours = publish_to_channel(channel, PostContent(text=OUR_POST), by=Actor(user=admin))
    # The AppView must know our post before the reply, or the agency gets no notification.
    view = wait_for("our post in the AppView", lambda: citizen.post_view(ours.external_id))
    wait_for(
        "the citizen's display name in the AppView",
        lambda: (
            agency.client.app.bsky.actor.get_profile(
                models.AppBskyActorGetProfile.Params(actor=citizen.did)
            ).display_name
            == CITIZEN_NAME
        ),
    )
    ref = models.ComAtprotoRepoStrongRef.Main(uri=view.uri, cid=view.cid)
    complaint = citizen.post(
        COMPLAINT, reply_to=models.AppBskyFeedPost.ReplyRef(root=ref, parent=ref)
    )
    wait_for(
        "the reply notification for the agency",
        lambda: any(n.uri == complaint.uri for n in _notifications(agency)),
    )
    timings["inbox flow: post and citizen reply"] = time.monotonic() - step

    # --- 3. the worker polls the channel: ingested, triaged, routed, a case opened ---------
    step = time.monotonic()
    assert poll_due_channels() == 1
    timings["inbox flow: poll_due_channels"] = time.monotonic() - step
    event = InboundEvent.objects.get(channel=channel)
    assert (event.kind, event.external_id, event.author_id) == (
        EventKind.REPLY,
        complaint.uri,
        citizen.did,
    )
    conversation = Conversation.objects.get(channel=channel)
    assert (conversation.category, conversation.unit, conversation.status) == (
        Category.COMPLAINT,
        unit,
        Status.OPEN,
    )
    case = Case.objects.get(conversation=conversation)
    assert (case.status, case.unit) == (CaseStatus.FORWARDED, unit)
    number = case.tracking_number

    operator = open_page()
    _sign_in(operator, responder.email, devices[responder.email])
    operator.get_by_test_id("inbox-link").click()
    row = operator.get_by_test_id("conversation-row").filter(has_text=citizen.handle)
    row.wait_for()
    assert operator.get_by_test_id("conversation-row").count() == 1
    assert "Complaint" in row.inner_text()
    assert UNIT in row.inner_text()
    assert "jalan rusak parah" in row.inner_text()
    operator.screenshot(path=str(artifacts / "inbox-list.png"), full_page=True)

    row.get_by_role("link", name=CITIZEN_NAME).click()
    operator.get_by_test_id("our-post").wait_for()
    assert OUR_POST in operator.get_by_test_id("our-post").inner_text()
    (incoming,) = operator.locator("[data-testid=message][data-direction=in]").all()
    assert COMPLAINT in incoming.get_by_test_id("message-text").inner_text()
    assert number in operator.get_by_test_id("case-link").inner_text()
    header = operator.locator("main").inner_text()
    assert "Complaint" in header and UNIT in header

    # --- 4. the responder answers from the reply box; the answer is on Bluesky -------------
    operator.get_by_test_id("reply-form").get_by_label("Reply").fill(ANSWER)
    operator.get_by_role("button", name="Send reply").click()
    operator.get_by_text("The reply was sent.").wait_for()
    outgoing = operator.locator("[data-testid=message][data-direction=out]")
    assert outgoing.count() == 1
    assert ANSWER in outgoing.get_by_test_id("message-text").inner_text()
    assert "Sent" in outgoing.inner_text()
    operator.screenshot(path=str(artifacts / "inbox-conversation-answered.png"), full_page=True)
    _no_csp_violations(operator)

    sent = conversation.messages.get(direction=Direction.OUT)
    assert sent.send_status == SendStatus.SENT and sent.channel_post is not None
    step = time.monotonic()
    answer = wait_for(
        "the answer in the citizen's notifications",
        lambda: _reply_to(citizen, complaint.uri, ANSWER),
    )
    timings["inbox flow: answer seen by the citizen"] = time.monotonic() - step
    assert answer.uri == sent.channel_post.external_id
    assert answer.author.did == agency.did
    assert answer.record.reply.root.uri == ours.external_id

    # --- 5. the unit agent, in a browser of their own, works the case and resolves it ------
    worker = open_page()
    _sign_in(worker, agent.email, devices[agent.email])
    # The rule told the unit's agents when it routed the conversation to them.
    with translation.override(org.default_language):
        routed = translation.gettext("A conversation was routed to %(unit)s") % {"unit": UNIT}
    worker.get_by_test_id("notifications-link").click()
    worker.locator("main").get_by_text(routed).wait_for()
    worker.get_by_test_id("inbox-link").click()
    worker.get_by_test_id("inbox-links").get_by_role("link", name="Cases").click()
    case_row = worker.get_by_test_id("case-row").filter(has_text=number)
    case_row.wait_for()
    assert worker.get_by_test_id("case-row").count() == 1
    assert "Forwarded" in case_row.inner_text() and UNIT in case_row.inner_text()
    worker.screenshot(path=str(artifacts / "inbox-cases-unit-agent.png"), full_page=True)
    case_row.get_by_role("link", name=number).click()
    worker.get_by_test_id("case-status").filter(has_text="Forwarded").wait_for()

    status_form = worker.get_by_test_id("case-status-form")
    status_form.get_by_label("New status").select_option(CaseStatus.IN_PROGRESS)
    status_form.get_by_label("Internal note").fill("Tim lapangan dijadwalkan besok pagi.")
    status_form.get_by_role("button", name="Change status").click()
    worker.get_by_test_id("case-status").filter(has_text="In progress").wait_for()

    status_form = worker.get_by_test_id("case-status-form")
    status_form.get_by_label("New status").select_option(CaseStatus.RESOLVED)
    status_form.get_by_label("Public note").fill(PUBLIC_NOTE)
    status_form.get_by_role("button", name="Change status").click()
    worker.get_by_test_id("case-status").filter(has_text="Resolved").wait_for()
    resolution = worker.get_by_test_id("resolution-reply")
    assert number in resolution.inner_text() and PUBLIC_NOTE in resolution.inner_text()
    assert "Sent" in resolution.inner_text()
    assert worker.get_by_test_id("send-error").count() == 0
    worker.screenshot(path=str(artifacts / "inbox-case-resolved.png"), full_page=True)
    _no_csp_violations(worker)

    case.refresh_from_db()
    conversation.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED and conversation.status == Status.RESOLVED
    assert case.resolution_message is not None
    assert case.resolution_message.send_status == SendStatus.SENT
    step = time.monotonic()
    told = wait_for(
        "the resolution in the citizen's notifications",
        lambda: _reply_to(citizen, complaint.uri, number),
    )
    timings["inbox flow: resolution seen by the citizen"] = time.monotonic() - step
    assert PUBLIC_NOTE in told.record.text and "/status/" in told.record.text
    assert told.uri == case.resolution_message.channel_post.external_id
    assert told.author.did == agency.did

    # The responder's page shows it resolved too.
    operator.reload()
    operator.get_by_test_id("conversation-status").filter(has_text="Resolved").wait_for()
    assert operator.locator("[data-testid=message][data-direction=out]").count() == 2
    _no_csp_violations(operator)

    # --- 6. anyone can look the number up on the public status page -------------------------
    public = open_page()
    public.goto("/status/")
    # The citizen types the number as read from the reply, in lower case with spaces.
    public.locator("input[name=number]").fill(number.lower().replace("-", " "))
    public.get_by_test_id("status-form").locator("button[type=submit]").click()
    result = public.get_by_test_id("status-result")
    result.wait_for()
    with translation.override("id"):
        resolved = str(CaseStatus.RESOLVED.label)
    shown = result.inner_text()
    assert number in shown and resolved in shown and UNIT in shown
    assert PUBLIC_NOTE in shown
    assert "Tim lapangan" not in shown  # the internal note stays internal
    page_text = public.content()
    for private in (
        CITIZEN_NAME,
        citizen.handle,
        citizen.did,
        "Melati",
        "motor saya",
        ANSWER,
        responder.email,
        agent.email,
    ):
        assert private not in page_text, private
    public.screenshot(path=str(artifacts / "inbox-status-public.png"), full_page=True)
    _no_csp_violations(public)
    _no_csp_violations(page)

    timings["inbox flow: whole test"] = time.monotonic() - started
