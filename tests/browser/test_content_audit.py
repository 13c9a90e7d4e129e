"""The content audit in a browser: an editor scores the past posts automatically, corrects
one in its row (htmx, no reload) and reads the results per hook."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from humas.accounts.roles import Role
from humas.accounts.testing import make_member, make_org
from humas.analytics.models import AccountSnapshot, AuditScore, PostSnapshot
from humas.channels.models import ChannelPost
from humas.publishing.testing import make_channel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "ombak-tenang-pulau-tiga"


def test_an_editor_scores_posts_corrects_one_and_reads_the_results(page, live_server):
    org = make_org("Pemerintah Kota Audit")
    editor = make_member(org, "editor@audit.go.id", Role.EDITOR, password=PASSWORD)
    editor.language = "en"
    editor.save()
    channel = make_channel(org, "dinkes.bsky.social", network="bluesky")
    AccountSnapshot.objects.create(
        organisation=org,
        channel=channel,
        day=date(2026, 10, 1),
        taken_at=datetime(2026, 10, 1, tzinfo=UTC),
        followers=1000,
    )
    texts = {
        "Tahukah kamu jadwal posyandu bulan ini?": 30,
        "5 cara mencegah DBD di rumah": 10,
        "Rapat koordinasi <b>lintas</b> sektor di aula.": 20,
    }
    posts = {}
    for n, (text, likes) in enumerate(texts.items()):
        post = ChannelPost.objects.create(
            organisation=org,
            channel=channel,
            external_id=f"p{n}",
            text=text,
            published_at=datetime(2026, 11, 3 + n, 2, tzinfo=UTC),
        )
        PostSnapshot.objects.create(
            organisation=org, post=post, age_hours=24, taken_at=post.published_at, likes=likes
        )
        posts[text] = post
    plain = posts["Rapat koordinasi <b>lintas</b> sektor di aula."]

    page.goto("/masuk/")
    page.locator("input[name=username]").fill("editor@audit.go.id")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form[method=post] .actions button[type=submit]").click()
    page.wait_for_selector("[data-testid=home-title]")

    # 1. Automatic scoring answers the two posts whose opening it recognises.
    page.goto("/analitik/audit/")
    page.locator("[data-testid=audit-score-auto]").click()
    assert "2 posts scored automatically" in page.locator(".messages").inner_text()
    assert (
        page.locator("[data-testid=audit-row-question] [data-testid=audit-posts]").inner_text()
        == "1"
    )

    # 2. The third is left for a person, who sets it in its row without a reload.
    page.locator("[data-testid=audit-posts-link]").click()
    page.locator("[data-testid=audit-filter-unscored]").click()
    row = page.locator(f"[data-testid=audit-post-{plain.pk}]")
    assert "<b>lintas</b>" in row.locator("[data-testid=audit-post-text]").inner_text()
    page.evaluate("window.stillTheSamePage = true")
    row.locator("[data-testid=audit-value-select]").select_option("story")
    page.wait_for_selector(f"[data-testid=audit-post-{plain.pk}] [data-testid=audit-source]")
    assert page.evaluate("window.stillTheSamePage") is True
    score = AuditScore.objects.get(post=plain)
    assert (score.value, score.source) == ("story", "person")

    # 3. The results put the question first (3 %), with the caution of a small sample.
    page.goto("/analitik/audit/")
    first = page.locator("[data-testid=audit-results] tbody tr").first
    assert first.get_attribute("data-testid") == "audit-row-question"
    assert first.locator("[data-testid=audit-median-rate]").inner_text() == "3.00 %"
    assert first.locator("[data-testid=audit-small-sample]").count() == 1
    assert not [m for m in page.console_messages if "Content Security Policy" in m]
