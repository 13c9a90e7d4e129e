"""Dashboard pages: the overview and one channel, campaign or pillar; best posting times;
each chart's CSV."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import formats
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from humas.accounts.access import organisation_for
from humas.accounts.models import Organisation
from humas.analytics import access, dashboards, goals, periods
from humas.analytics.charts import Chart, chart_csv
from humas.analytics.dashboards import as_number, label_heading
from humas.analytics.models import PostSnapshot
from humas.channels.models import ChannelAccount, ChannelPost
from humas.publishing.models import Campaign, Pillar

#: What the dashboards show when no period is asked for.
DEFAULT_DAYS = 28

#: How long a computed dashboard is reused (see :func:`content`). The posts' numbers move
#: when the snapshot job runs, every 10 minutes; eight people opening the same dashboard in
#: a meeting need it computed once, not eight times.
CACHE_SECONDS = 60


@dataclass(frozen=True)
class Request:
    """What a dashboard request asks for: the organisation, the scope and the period."""

    org: Organisation
    period: periods.Period
    error: str
    channel: ChannelAccount | None = None
    campaign: Campaign | None = None
    pillar: Pillar | None = None

    @property
    def scope_query(self) -> str:
        if self.channel is not None:
            return f"kanal={self.channel.pk}"
        if self.campaign is not None:
            return f"kampanye={self.campaign.pk}"
        if self.pillar is not None:
            return f"pilar={self.pillar.pk}"
        return ""

    def dashboard(self) -> dashboards.Dashboard:
        return dashboards.overview(
            self.org, self.period, channel=self.channel, campaign=self.campaign, pillar=self.pillar
        )

    @property
    def query(self) -> str:
        """The query string of a CSV download: the same scope and period."""
        return "&".join(part for part in (self.scope_query, self.period.query()) if part)


def _period(request: HttpRequest, org: Organisation) -> tuple[periods.Period, str]:
    default = periods.last_days(periods.today_in(org), DEFAULT_DAYS)
    try:
        return periods.parse(request.GET, default=default), ""
    except periods.PeriodError as exc:
        # The page still answers, with the default period and the reason next to the picker.
        return default, str(exc)


def _ask(
    request: HttpRequest,
    *,
    channel: ChannelAccount | None = None,
    campaign: Campaign | None = None,
    pillar: Pillar | None = None,
) -> Request:
    org = organisation_for(request, access.DASHBOARDS_VIEW)
    period, error = _period(request, org)
    return Request(org, period, error, channel, campaign, pillar)


def _inbox_health(asked: Request) -> Any:
    """The inbox health of the organisation or channel (another module's figures), or None
    where inbox figures do not apply (campaigns, pillars) or the module is not there."""
    if asked.campaign is not None or asked.pillar is not None:
        return None
    try:
        module = importlib.import_module("humas.analytics.inbox_health")
    except ImportError:
        return None
    return module.inbox_health(asked.org, asked.period, channel=asked.channel)


def _minutes(wait: Any) -> Any:
    return None if wait is None else goals.minutes(wait)


def health_figures(health: Any) -> list[dashboards.Figure]:
    """The inbox health's headline figures as dashboard cards (its own definitions)."""
    now, before = health.current, health.previous
    return [
        dashboards.Figure(
            "messages",
            _("Citizens' messages"),
            now.inbound_messages,
            before.inbound_messages,
        ),
        dashboards.Figure(
            "conversations",
            _("Conversations opened"),
            now.conversations_opened,
            before.conversations_opened,
        ),
        dashboards.Figure(
            "first_response",
            _("Median first response (minutes)"),
            _minutes(now.median_first_response),
            _minutes(before.median_first_response),
            note=_("No conversation answered yet."),
            lower_is_better=True,
        ),
        dashboards.Figure(
            "resolved_within_deadline",
            _("Complaints resolved within the deadline"),
            now.resolved_within_deadline,
            before.resolved_within_deadline,
            unit="%",
            note=_("No complaint with a deadline resolved."),
        ),
    ]


def _table_body(chart: Chart) -> SafeString:
    """The table view's rows as HTML, built here rather than cell by cell in the template:
    a page holds a few thousand cells, and the template engine's per-cell lookups (and a
    language lookup per localised number) were most of the page's time."""
    separator = str(formats.get_format("DECIMAL_SEPARATOR"))
    no_data = format_html('<span class="muted" title="{}">—</span>', _("no data"))

    def cell(value: object) -> str:
        if value is None:
            return no_data
        text = str(value)
        return conditional_escape(
            text.replace(".", separator) if isinstance(value, Decimal) else text
        )

    rows = [
        format_html(
            '<tr><th scope="row">{}</th>{}</tr>',
            label,
            mark_safe("".join(f"<td>{cell(value)}</td>" for value in values)),  # noqa: S308 - escaped in cell()
        )
        for label, *values in chart.rows()
    ]
    return mark_safe("\n".join(rows))  # noqa: S308 - each row built by format_html


def chart_context(chart: Chart, query: str) -> dict[str, Any]:
    """What ``_chart.html`` needs: the chart, its table and its script's data."""
    heading = label_heading(chart)
    return {
        "chart": chart,
        "heading": heading,
        "header": chart.header(heading),
        "body": _table_body(chart),
        "query": query,
        "data_id": f"chart-data-{chart.key}",
        "data": {
            "kind": chart.kind,
            "counts_from": dashboards.COUNT_SERIES_FROM.get(chart.key),
            "unit": chart.unit,
            "labels": chart.labels,
            "series": [
                {"name": series.name, "values": [as_number(value) for value in series.values]}
                for series in chart.series
            ],
        },
    }


@dataclass(frozen=True)
class Content:
    """What a dashboard page computes: cards, charts (as data and as rendered HTML), top
    and bottom posts, and the inbox health where it applies."""

    dashboard: dashboards.Dashboard
    health: Any
    top: list[dashboards.PostRow]
    bottom: list[dashboards.PostRow]
    charts: list[Chart]
    charts_html: list[str]


def _cache_key(kind: str, asked: Request) -> str:
    """The organisation, scope, period and language, and what changes when the posts'
    numbers do: the latest snapshot time and the number of posts (two index reads)."""
    org = asked.org
    taken = PostSnapshot.objects.filter(organisation=org).aggregate(t=Max("taken_at"))["t"]
    # A count, not the newest id: posts are never removed (deleted ones are kept), and the
    # organisation's index answers a count where a max of ids walks other organisations'.
    posts = ChannelPost.objects.filter(organisation=org).count()
    return ":".join(
        [
            kind,
            str(org.pk),
            # An organisation made again with the same id (a test database) is another one;
            # a changed time zone moves every day.
            org.created_at.isoformat(),
            org.time_zone,
            asked.scope_query,
            asked.period.query(),
            get_language() or "",
            taken.isoformat() if taken else "",
            str(posts),
        ]
    )


def content(asked: Request) -> Content:
    """The dashboard of ``asked``, reused for ``CACHE_SECONDS`` by the page and its CSVs.

    The key holds the organisation's latest snapshot time and its number of posts, so a
    new snapshot or a new post shows at once (two index reads); other changes (a post
    deleted on the network, a follower count, a conversion, a citizen's message) show
    within ``CACHE_SECONDS``. Goals are not kept (an edited goal shows at once). The page
    and its CSV downloads read the same entry, so a CSV taken from the page holds the
    numbers the page showed.
    """
    org = asked.org
    key = _cache_key("dashboard", asked)
    found = cache.get(key)
    if isinstance(found, Content):
        return found
    dashboard = asked.dashboard()
    health = _inbox_health(asked)
    top = dashboards.ranked(org, dashboard.posts)
    bottom = dashboards.ranked(org, dashboard.posts, worst=True)
    # A post in both lists (fewer than ten ranked posts) is shown once, at the top.
    bottom = [row for row in bottom if row.pk not in {other.pk for other in top}]
    charts = list(dashboard.charts) + (list(health.charts) if health is not None else [])
    made = Content(
        # The posts themselves are not kept: ranked already, and most of the entry's size.
        dashboard=replace(dashboard, posts=[]),
        health=health,
        top=top,
        bottom=bottom,
        charts=charts,
        charts_html=[
            render_to_string("analytics/_chart.html", {"c": chart_context(chart, asked.query)})
            for chart in charts
        ],
    )
    cache.set(key, made, CACHE_SECONDS)
    return made


def _dashboard_page(request: HttpRequest, asked: Request) -> HttpResponse:
    made = content(asked)
    dashboard, health = made.dashboard, made.health
    goal_rows = (
        []
        if asked.pillar is not None
        else dashboards.goal_rows(
            asked.org, asked.period, channel=asked.channel, campaign=asked.campaign
        )
    )
    return render(
        request,
        "analytics/dashboard.html",
        {
            "asked": asked,
            "dashboard": dashboard,
            "figures": dashboard.figures + (health_figures(health) if health is not None else []),
            "charts_html": [mark_safe(html) for html in made.charts_html],  # noqa: S308 - rendered by _chart.html
            "goal_rows": goal_rows,
            "post_lists": [
                (_("Top posts"), made.top, "top-posts"),
                (_("Bottom posts"), made.bottom, "bottom-posts"),
            ],
            # The scope is in the address: the period forms carry nothing else.
            "scope_params": [],
            "time_zone": asked.org.time_zone,
            # The other dashboards' links: names only (see dashboards._channels).
            "channels": ChannelAccount.objects.filter(organisation=asked.org)
            .only("pk", "network", "handle")
            .order_by("network", "handle"),
            "campaigns": Campaign.objects.filter(organisation=asked.org)
            .only("pk", "name")
            .order_by("-starts_on"),
            "pillars": Pillar.objects.filter(organisation=asked.org, is_active=True)
            .only("pk", "name")
            .order_by("name"),
        },
    )


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    return _dashboard_page(request, _ask(request))


@login_required
def channel_dashboard(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = access.get_dashboard_channel_for(request, channel_id)
    return _dashboard_page(request, _ask(request, channel=channel))


@login_required
def campaign_dashboard(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = access.get_dashboard_campaign_for(request, campaign_id)
    return _dashboard_page(request, _ask(request, campaign=campaign))


@login_required
def pillar_dashboard(request: HttpRequest, pillar_id: int) -> HttpResponse:
    pillar = access.get_dashboard_pillar_for(request, pillar_id)
    return _dashboard_page(request, _ask(request, pillar=pillar))


def _scoped(request: HttpRequest) -> Request:
    """The scope named in the query string (``kanal``, ``kampanye`` or ``pilar``)."""

    def number(name: str) -> int | None:
        text = request.GET.get(name, "").strip()
        if not text:
            return None
        if not text.isdigit():
            raise Http404
        return int(text)

    channel_id, campaign_id, pillar_id = number("kanal"), number("kampanye"), number("pilar")
    if sum(item is not None for item in (channel_id, campaign_id, pillar_id)) > 1:
        raise Http404
    return _ask(
        request,
        channel=None
        if channel_id is None
        else access.get_dashboard_channel_for(request, channel_id),
        campaign=None
        if campaign_id is None
        else access.get_dashboard_campaign_for(request, campaign_id),
        pillar=None if pillar_id is None else access.get_dashboard_pillar_for(request, pillar_id),
    )


def _best_times(asked: Request) -> dashboards.BestTimes:
    """A year of posts: kept like the dashboards (see :func:`content`)."""
    key = _cache_key("best-times", asked)
    found = cache.get(key)
    if isinstance(found, dashboards.BestTimes):
        return found
    times = dashboards.best_times(
        asked.org,
        until=asked.period.last,
        channel=asked.channel,
        campaign=asked.campaign,
        pillar=asked.pillar,
    )
    cache.set(key, times, CACHE_SECONDS)
    return times


@login_required
def best_times(request: HttpRequest) -> HttpResponse:
    """Best weekdays and hours to post, from the last year up to the period's end."""
    asked = _scoped(request)
    times = _best_times(asked)
    charts = times.charts()
    weekdays = dashboards.weekday_names()
    return render(
        request,
        "analytics/dashboard_best_times.html",
        {
            "asked": asked,
            "times": times,
            "weekdays": weekdays,
            "grid": [(f"{hour:02d}:00", cells) for hour, cells in times.grid()],
            "best": [
                {
                    "day": weekdays[day],
                    "hour": f"{hour:02d}:00",
                    "rate": cell.rate,
                    "posts": cell.posts,
                }
                for day, hour, cell in times.best()
            ],
            "scope_params": [tuple(part.split("=", 1)) for part in [asked.scope_query] if part],
            # Days and hours are drawn; the 7 × 24 grid is a table (see the template).
            "charts": [chart_context(chart, asked.query) for chart in charts[:2]],
            "few_posts": dashboards.FEW_POSTS,
        },
    )


@login_required
def chart_download(request: HttpRequest, key: str) -> HttpResponse:
    """``/analitik/grafik/<key>.csv?<scope>&<period>``: exactly the chart's table view."""
    asked = _scoped(request)
    if asked.error:
        return HttpResponse(asked.error, status=400, content_type="text/plain; charset=utf-8")
    charts = _best_times(asked).charts() if key.startswith("best-") else content(asked).charts
    chart = next((item for item in charts if item.key == key), None)
    if chart is None:
        raise Http404(_("No such chart."))
    response = HttpResponse(
        chart_csv(chart, label_heading(chart)), content_type="text/csv; charset=utf-8"
    )
    name = f"{key}-{asked.period.first.isoformat()}-{asked.period.last.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
