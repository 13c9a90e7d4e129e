"""The dashboard in a browser: an analyst opens the overview, sees a drawn chart (uPlot's
canvas), opens its table view and downloads the chart's CSV, which holds the same numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from django.core.cache import cache

from humas.accounts.roles import Role
from humas.accounts.testing import make_member, make_org
from humas.analytics import kpis, periods
from humas.analytics.models import AccountSnapshot, PostSnapshot
from humas.channels.models import ChannelPost
from humas.publishing.testing import make_channel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "ombak-tenang-pulau-tiga"


def test_an_analyst_sees_a_chart_its_table_and_downloads_its_csv(page, live_server, artifacts):
    cache.clear()  # the dashboards reuse their numbers for a minute, per process
    org = make_org("Pemerintah Kota Grafik")
    analyst = make_member(org, "analis@grafik.go.id", Role.ANALYST, password=PASSWORD)
    analyst.language = "en"
    analyst.save()
    channel = make_channel(org, "dinkes.bsky.social", network="bluesky")
    today = periods.today_in(org)
    AccountSnapshot.objects.create(
        organisation=org,
        channel=channel,
        day=today - timedelta(days=10),
        taken_at=datetime.now(UTC),
        followers=200,
    )
    day = today - timedelta(days=3)
    moment = datetime.combine(day, time(9), tzinfo=kpis.zone_of(org))
    post = ChannelPost.objects.create(
        organisation=org, channel=channel, external_id="p1", published_at=moment, text="Posyandu"
    )
    PostSnapshot.objects.create(
        organisation=org, post=post, age_hours=24, taken_at=moment, likes=12, reposts=2
    )

    page.goto("/masuk/")
    page.locator("input[name=username]").fill("analis@grafik.go.id")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form[method=post] .actions button[type=submit]").click()
    page.wait_for_selector("[data-testid=home-title]")
    page.locator("[data-testid=dashboard-link]").click()

    chart = page.locator("[data-testid=chart-engagement]")
    chart.locator(".uplot canvas").wait_for()
    assert chart.locator("[data-chart][data-drawn=true]").count() == 1
    # Drawn: the table view folds away, and opens on request with the same numbers.
    table = chart.locator("[data-testid=chart-table]")
    assert table.get_attribute("open") is None
    table.locator("summary").click()
    row = table.locator("tr", has_text=day.isoformat())
    row.wait_for()
    assert row.locator("td").first.inner_text() == "14"
    page.screenshot(path=str(artifacts / "dashboard-overview.png"), full_page=True)

    with page.expect_download() as download_info:
        chart.locator("[data-testid=chart-csv]").click()
    download = download_info.value
    assert download.suggested_filename.startswith("engagement-")
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows[0] == ["Date", "This period", "Previous period"]
    assert [day.isoformat(), "14", ""] in rows

    # The best times to post, drawn too (rate bars, post counts on their own axis).
    page.locator("[data-testid=best-times-link]").click()
    page.locator("[data-testid=chart-best-days] .uplot canvas").wait_for()
    page.screenshot(path=str(artifacts / "dashboard-best-times.png"), full_page=True)
    weekday = day.strftime("%A")
    best_days = page.locator("[data-testid=chart-best-days] [data-testid=chart-table]")
    best_days.locator("summary").click()
    assert best_days.locator("tr", has_text=weekday).locator("td").all_inner_texts() == [
        "7.00",
        "1",
    ]
    assert not [m for m in page.console_messages if "Content Security Policy" in m]
    assert not [m for m in page.console_messages if "rror" in m]
