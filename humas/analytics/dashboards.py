"""Dashboards: the figures and charts of one period for the organisation, one channel, one
campaign or one pillar, each compared with the period before (docs/dashboards.md).

Reports call these functions too, so a page, a PDF and a CSV download show the same
numbers. Engagement and its rate come from :mod:`humas.analytics.metrics` per post, exactly
as :func:`humas.analytics.kpis.engagement_rate` computes them: every published post of the
period is read once with its latest snapshot and its channel's followers on its local
publish day (two queries, both bounded by the period), and everything else is summed from
those rows. Days are the organisation's local days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncDate
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from humas.accounts.models import Organisation
from humas.analytics import goals, kpis, metrics
from humas.analytics.charts import Chart, Number, Series
from humas.analytics.models import AccountSnapshot, Goal, PostSnapshot
from humas.analytics.periods import Period
from humas.channels.models import ChannelAccount, ChannelPost
from humas.channels.providers import UnknownNetwork, provider_class
from humas.inbox.models import Direction, Message
from humas.publishing.models import Campaign, Pillar

#: A weekday-and-hour cell of the best-times grid with fewer rated posts than this is marked
#: "few posts": one lucky post is not a pattern.
FEW_POSTS = 3

#: How far back the best times look.
BEST_TIMES_DAYS = 365

#: How many snapshots are read by primary key in one query.
SNAPSHOT_SLICE = 20_000

#: Length of a post's text in the top posts lists.
TEXT_CHARS = 120


def network_label(network: str) -> str:
    try:
        return str(provider_class(network).label)
    except (UnknownNetwork, ImportError, AttributeError):
        return network


# --- one row per post ----------------------------------------------------------------------


@dataclass
class Counts:
    """A post's latest snapshot counts (``None``: the network does not give it)."""

    likes: int | None
    reposts: int | None
    replies: int | None
    quotes: int | None


@dataclass(frozen=True)
class PostFact:
    """One published post as the dashboards read it. ``engagement`` and ``rate`` are
    computed once, through :mod:`metrics`, when the row is read (:func:`make_fact`)."""

    pk: int
    channel_id: int
    network: str
    # The local publish day, weekday (0 = Monday) and hour, worked out by the database:
    # loading ~1,500 aware datetimes a page costs more than the rest of its Python.
    day: date
    weekday: int
    hour: int
    deleted: bool
    counts: Counts | None
    followers: int | None
    engagement: int | None
    rate: Decimal | None


def make_fact(
    pk: int,
    channel_id: int,
    network: str,
    day: date,
    weekday: int,
    hour: int,
    deleted: bool,
    counts: Counts | None,
    followers: int | None,
) -> PostFact:
    return PostFact(
        pk=pk,
        channel_id=channel_id,
        network=network,
        day=day,
        weekday=weekday,
        hour=hour,
        deleted=deleted,
        counts=counts,
        followers=followers,
        engagement=None if counts is None else metrics.engagement(counts),
        rate=None if counts is None else metrics.engagement_rate(counts, followers),
    )


@dataclass(frozen=True)
class Scope:
    channel: ChannelAccount | None = None
    campaign: Campaign | None = None
    pillar: Pillar | None = None

    def __post_init__(self) -> None:
        if sum(item is not None for item in (self.channel, self.campaign, self.pillar)) > 1:
            raise ValueError("a dashboard is scoped to one channel, campaign or pillar at most")

    @property
    def is_content_only(self) -> bool:
        """Campaigns and pillars are content: they have no followers and no inbox."""
        return self.campaign is not None or self.pillar is not None


def _posts(
    org: Organisation, start: datetime, end: datetime, scope: Scope
) -> QuerySet[ChannelPost]:
    posts = kpis.published_posts(org, start, end, channel=scope.channel, campaign=scope.campaign)
    if scope.pillar is not None:
        posts = posts.filter(delivery__post__pillar=scope.pillar)
    return posts


def post_facts(org: Organisation, start: datetime, end: datetime, scope: Scope) -> list[PostFact]:
    """Every post published in ``[start, end)`` in scope, deleted ones included."""
    zone = kpis.zone_of(org)
    latest = (
        PostSnapshot.objects.filter(post=OuterRef("pk")).order_by("-age_hours").values("pk")[:1]
    )
    # The followers of the local publish day or the latest day before, as kpis reads them.
    followers = (
        AccountSnapshot.objects.filter(
            channel=OuterRef("channel_id"), followers__isnull=False, day__lte=OuterRef("day")
        )
        .order_by("-day")
        .values("followers")[:1]
    )
    posts = (
        _posts(org, start, end, scope)
        .order_by()
        .annotate(
            day=TruncDate("published_at", tzinfo=zone),
            weekday=ExtractIsoWeekDay("published_at", tzinfo=zone),
            hour=ExtractHour("published_at", tzinfo=zone),
        )
        .annotate(latest_snapshot=Subquery(latest), followers_then=Subquery(followers))
    )
    rows = list(
        posts.values_list(
            "pk",
            "channel_id",
            "channel__network",
            "day",
            "weekday",
            "hour",
            "deleted_at",
            "latest_snapshot",
            "followers_then",
        )
    )
    counts: dict[int, Counts] = {}
    snapshot_ids = [row[7] for row in rows if row[7] is not None]
    # By primary key, in slices that stay under SQLite's limit of bound parameters (on
    # PostgreSQL a year of a busy organisation's posts is one or two slices).
    for first in range(0, len(snapshot_ids), SNAPSHOT_SLICE):
        for pk, likes, reposts, replies, quotes in PostSnapshot.objects.filter(
            pk__in=snapshot_ids[first : first + SNAPSHOT_SLICE]
        ).values_list("pk", "likes", "reposts", "replies", "quotes"):
            counts[pk] = Counts(likes, reposts, replies, quotes)
    facts = []
    for pk, channel_id, network, day, weekday, hour, deleted_at, snapshot, followers in rows:
        facts.append(
            make_fact(
                pk=pk,
                channel_id=channel_id,
                network=network,
                day=day,
                weekday=weekday - 1,
                hour=hour,
                deleted=deleted_at is not None,
                counts=None if snapshot is None else counts.get(snapshot),
                followers=followers,
            )
        )
    return facts


def total_engagement(facts: Iterable[PostFact]) -> int | None:
    known = [fact.engagement for fact in facts if fact.engagement is not None]
    return sum(known) if known else None


def mean_rate(facts: Iterable[PostFact]) -> Decimal | None:
    """The mean of the posts' rates, as :func:`kpis.engagement_rate` rounds it."""
    rates = [fact.rate for fact in facts if fact.rate is not None]
    if not rates:
        return None
    return (sum(rates, Decimal(0)) / len(rates)).quantize(kpis.CENT, rounding=ROUND_HALF_UP)


# --- the overview --------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One KPI card: this period's value, the previous period's and the change."""

    key: str
    label: str
    value: int | Decimal | None
    previous: int | Decimal | None
    unit: str = ""
    # Why there is no value ("not for campaigns"…), shown instead of a dash.
    note: str = ""
    # A response time: a rise is bad news.
    lower_is_better: bool = False

    @property
    def trend(self) -> str:
        """ "better", "worse" or "" (no change, or nothing to compare)."""
        change = self.change
        if not change:
            return ""
        return "better" if (change > 0) != self.lower_is_better else "worse"

    @property
    def change(self) -> int | Decimal | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def change_percent(self) -> Decimal | None:
        """Relative change of a count; ``None`` for percentages (their change is in points)
        and without a previous value to divide by."""
        change = self.change
        if change is None or self.unit == "%" or not self.previous:
            return None
        return kpis.percent(change, abs(Decimal(self.previous)))


@dataclass(frozen=True)
class Dashboard:
    period: Period
    previous: Period
    scope: Scope
    figures: list[Figure]
    charts: list[Chart]
    # "Quotes: not provided by Telegram"-style remarks on missing counts.
    notes: list[str] = field(default_factory=list)
    # The period's posts as read for the figures, for ranking them without a second read.
    posts: list[PostFact] = field(default_factory=list, repr=False)

    def figure(self, key: str) -> Figure:
        return next(figure for figure in self.figures if figure.key == key)

    def chart(self, key: str) -> Chart:
        for chart in self.charts:
            if chart.key == key:
                return chart
        raise KeyError(key)


def _split(facts: list[PostFact], period: Period) -> list[PostFact]:
    return [fact for fact in facts if period.first <= fact.day <= period.last]


def _per_day(facts: list[PostFact], period: Period) -> dict[date, list[PostFact]]:
    days: dict[date, list[PostFact]] = defaultdict(list)
    for fact in _split(facts, period):
        days[fact.day].append(fact)
    return days


def _daily_charts(facts: list[PostFact], period: Period, previous: Period) -> list[Chart]:
    now, before = _per_day(facts, period), _per_day(facts, previous)
    # The previous period is drawn day by day under this one: its n-th day under this n-th.
    # A month compared with a shorter month has no n-th day there: a gap, not a zero.
    earlier = previous.day_list()
    pairs: list[tuple[date, date | None]] = [
        (day, earlier[n] if n < len(earlier) else None) for n, day in enumerate(period.day_list())
    ]
    labels = [day.isoformat() for day, _before in pairs]
    this_name, previous_name = _("This period"), _("Previous period")
    engagement = Chart(
        key="engagement",
        title=_("Engagement by publish day"),
        kind="bar",
        labels=labels,
        series=[
            Series(this_name, [total_engagement(now.get(day, [])) for day, _b in pairs]),
            Series(
                previous_name,
                [None if b is None else total_engagement(before.get(b, [])) for _d, b in pairs],
            ),
        ],
        empty_text=_("No engagement counts for posts published in this period."),
        notes=[
            _(
                "Likes, reposts, replies and quotes of the posts published each day, from "
                "their latest snapshot."
            )
        ],
    )
    rate = Chart(
        key="engagement-rate",
        title=_("Engagement rate by publish day"),
        kind="line",
        labels=labels,
        series=[
            Series(this_name, [mean_rate(now.get(day, [])) for day, _b in pairs]),
            Series(
                previous_name,
                [None if b is None else mean_rate(before.get(b, [])) for _d, b in pairs],
            ),
        ],
        unit="%",
        empty_text=_("No engagement rate: no post of this period has counts and followers."),
        notes=[_("Mean of the posts' engagement rates (engagement ÷ followers on publish day).")],
    )
    return [engagement, rate]


def _channels(org: Organisation, scope: Scope) -> list[ChannelAccount]:
    # Only what the charts name: a channel row's many timestamps cost more to load than
    # the whole query.
    channels = (
        ChannelAccount.objects.filter(organisation=org)
        .only("pk", "network", "handle")
        .order_by("network", "handle")
    )
    if scope.channel is not None:
        channels = channels.filter(pk=scope.channel.pk)
    return list(channels)


def _followers_chart(org: Organisation, period: Period, channels: list[ChannelAccount]) -> Chart:
    counts: dict[tuple[int, date], int | None] = {
        (channel_id, day): followers
        for channel_id, day, followers in AccountSnapshot.objects.filter(
            channel__in=channels, day__gte=period.first, day__lte=period.last
        ).values_list("channel_id", "day", "followers")
    }
    days = period.day_list()
    return Chart(
        key="followers",
        title=_("Followers per day"),
        kind="line",
        labels=[day.isoformat() for day in days],
        series=[
            Series(
                f"{channel.handle} ({network_label(channel.network)})",
                # A day without a count is a gap: the job did not run, or the network gave none.
                [counts.get((channel.pk, day)) for day in days],
            )
            for channel in channels
        ],
        empty_text=_("No follower counts in this period."),
    )


def inbound_by_network(
    org: Organisation, start: datetime, end: datetime, channel: ChannelAccount | None = None
) -> dict[str, int]:
    """Citizens' messages written in ``[start, end)`` per network, in one grouped count.

    The same messages as the inbox health's "inbound messages" (``inbox_health``), so the
    per-network numbers add up to that figure.
    """
    messages = Message.objects.filter(
        conversation__organisation=org,
        direction=Direction.IN,
        created_at__gte=start,
        created_at__lt=end,
        # Implied by the period, stated so PostgreSQL can start from the recently active
        # conversations instead of every message (as inbox_health does).
        conversation__last_message_at__gte=start,
    )
    if channel is not None:
        messages = messages.filter(conversation__channel=channel)
    return {
        network: n
        for network, n in messages.order_by()
        .values("conversation__channel__network")
        .annotate(n=Count("*"))
        .values_list("conversation__channel__network", "n")
    }


def _networks_chart(
    facts: list[PostFact], networks: list[str], inbound: dict[str, int] | None
) -> Chart:
    per_network: dict[str, list[PostFact]] = defaultdict(list)
    for fact in facts:
        per_network[fact.network].append(fact)
    names = sorted(set(networks) | set(per_network) | set(inbound or {}))
    series = [Series(_("Engagement"), [total_engagement(per_network[name]) for name in names])]
    if inbound is not None:
        # A network with a channel and no message has 0 messages: a real count, not a gap.
        series.append(Series(_("Citizens' messages"), [inbound.get(name, 0) for name in names]))
    return Chart(
        key="networks",
        title=_("Where our citizens are"),
        kind="bar",
        labels=[network_label(name) for name in names],
        series=series,
        empty_text=_("No engagement and no messages in this period."),
        notes=[_("Engagement with our posts and messages from citizens, per network.")],
    )


def _missing_counts(facts: list[PostFact]) -> list[str]:
    """A remark for each count a network gave for none of its posts in the period."""
    per_network: dict[str, list[Counts]] = defaultdict(list)
    for fact in facts:
        if fact.counts is not None:
            per_network[fact.network].append(fact.counts)
    labels = {
        "likes": _("Likes"),
        "reposts": _("Reposts"),
        "replies": _("Replies"),
        "quotes": _("Quotes"),
    }
    notes = []
    for network in sorted(per_network):
        missing = [
            str(labels[name])
            for name in metrics.ENGAGEMENT_COUNTS
            if all(getattr(counts, name) is None for counts in per_network[network])
        ]
        if missing:
            notes.append(
                _("%(counts)s: not provided by %(network)s.")
                % {"counts": ", ".join(missing), "network": network_label(network)}
            )
    return notes


def overview(
    org: Organisation,
    period: Period,
    *,
    channel: ChannelAccount | None = None,
    campaign: Campaign | None = None,
    pillar: Pillar | None = None,
) -> Dashboard:
    """The period's KPI cards (with the previous period) and charts for one scope."""
    scope = Scope(channel, campaign, pillar)
    previous = period.previous()
    start, end = period.bounds(org)
    previous_start, previous_end = previous.bounds(org)
    # One read covering both periods: they are adjacent.
    facts = post_facts(org, previous_start, end, scope)
    now, before = _split(facts, period), _split(facts, previous)

    figures = [
        Figure("posts", _("Posts published"), len(now), len(before)),
        Figure("engagement", _("Engagement"), total_engagement(now), total_engagement(before)),
        Figure(
            "engagement_rate", _("Engagement rate"), mean_rate(now), mean_rate(before), unit="%"
        ),
    ]
    not_for_content = _("Not for campaigns and pillars: followers and messages are per channel.")
    inbound: dict[str, int] | None = None
    if scope.is_content_only:
        figures.append(
            Figure("follower_growth", _("Follower growth"), None, None, note=not_for_content)
        )
    else:
        figures.append(
            Figure(
                "follower_growth",
                _("Follower growth"),
                kpis.follower_growth(org, start, end, channel=channel),
                kpis.follower_growth(org, previous_start, previous_end, channel=channel),
            )
        )
        # The messages' own card (and its previous period) is the inbox health's.
        inbound = inbound_by_network(org, start, end, channel)
    if pillar is None:
        figures.append(
            Figure(
                "conversions",
                _("Conversions"),
                kpis.conversions(org, start, end, channel=channel, campaign=campaign),
                kpis.conversions(
                    org, previous_start, previous_end, channel=channel, campaign=campaign
                ),
                note=_("No tracked links."),
            )
        )

    charts = _daily_charts(facts, period, previous)
    channels = _channels(org, scope)
    if not scope.is_content_only:
        charts.append(_followers_chart(org, period, channels))
    networks = [item.network for item in channels] if not scope.is_content_only else []
    charts.append(_networks_chart(now, networks, inbound))
    return Dashboard(
        period=period,
        previous=previous,
        scope=scope,
        figures=figures,
        charts=charts,
        notes=_missing_counts(now),
        posts=now,
    )


def goal_rows(
    org: Organisation,
    period: Period,
    *,
    channel: ChannelAccount | None = None,
    campaign: Campaign | None = None,
) -> list[goals.GoalRow]:
    """Goals whose period overlaps ``period``, for this scope (the organisation's own goals
    on the overview), measured over their own period."""
    found = Goal.objects.filter(
        organisation=org, starts_on__lte=period.last, ends_on__gte=period.first
    ).select_related("organisation", "channel", "campaign")
    found = found.filter(channel=channel, campaign=campaign)
    return goals.rows(list(found))


# --- top and bottom posts ------------------------------------------------------------------


@dataclass(frozen=True)
class PostRow:
    pk: int
    text: str
    url: str
    channel: str
    network: str
    published_at: datetime  # in the organisation's time zone
    engagement: int | None
    rate: Decimal | None
    deleted: bool


def top_posts(
    org: Organisation,
    period: Period,
    *,
    limit: int = 5,
    worst: bool = False,
    channel: ChannelAccount | None = None,
    campaign: Campaign | None = None,
    pillar: Pillar | None = None,
) -> list[PostRow]:
    """The posts of the period with the highest (or lowest) engagement rate.

    Ranked by rate, not by raw engagement, so a post on a small channel is not buried under
    one on a big channel; posts without a rate (no counts, no followers yet) are not ranked.
    Deleted posts stay in, marked.
    """
    start, end = period.bounds(org)
    return ranked(org, post_facts(org, start, end, Scope(channel, campaign, pillar)), limit, worst)


def ranked(
    org: Organisation, facts: list[PostFact], limit: int = 5, worst: bool = False
) -> list[PostRow]:
    """:func:`top_posts` of posts already read (``Dashboard.posts``)."""
    rated = [fact for fact in facts if fact.rate is not None]
    rated.sort(key=lambda fact: (fact.rate, fact.engagement or 0, fact.pk), reverse=not worst)
    chosen = rated[:limit]
    posts = (
        ChannelPost.objects.select_related("channel")
        .only("pk", "text", "url", "published_at", "channel__handle")
        .in_bulk([fact.pk for fact in chosen])
    )
    zone = kpis.zone_of(org)
    rows = []
    for fact in chosen:
        post = posts[fact.pk]
        rows.append(
            PostRow(
                pk=fact.pk,
                text=Truncator(" ".join(post.text.split())).chars(TEXT_CHARS),
                url=post.url,
                channel=post.channel.handle,
                network=network_label(fact.network),
                published_at=post.published_at.astimezone(zone),
                engagement=fact.engagement,
                rate=fact.rate,
                deleted=fact.deleted,
            )
        )
    return rows


# --- best days and hours -------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    posts: int
    rated: int
    rate: Decimal | None

    @property
    def few(self) -> bool:
        return self.rated < FEW_POSTS


@dataclass(frozen=True)
class BestTimes:
    period: Period
    # (weekday, hour) → cell; weekday 0 is Monday, hours are local.
    cells: dict[tuple[int, int], Cell]
    by_day: list[Cell]
    by_hour: list[Cell]

    def grid(self) -> list[tuple[int, list[tuple[Cell, int]]]]:
        """Hour by hour, the seven weekdays' cells (the table view), each with a shade 0–4
        for the heat map: its rate against the best rate, 0 for no rate or few posts."""
        rates = [
            cell.rate for cell in self.cells.values() if cell.rate is not None and not cell.few
        ]
        top = max(rates, default=None)

        def shade(cell: Cell) -> int:
            if cell.rate is None or cell.few or not top:
                return 0
            return min(4, 1 + int(cell.rate * 4 / top))

        return [
            (hour, [(self.cells[(day, hour)], shade(self.cells[(day, hour)])) for day in range(7)])
            for hour in range(24)
        ]

    def best(self, count: int = 3) -> list[tuple[int, int, Cell]]:
        """The best weekday-and-hour cells with enough posts to mean something."""
        ranked = [
            (day, hour, cell)
            for (day, hour), cell in self.cells.items()
            if cell.rate is not None and not cell.few
        ]
        ranked.sort(key=lambda item: item[2].rate or 0, reverse=True)
        return ranked[:count]

    def charts(self) -> list[Chart]:
        day_names = weekday_names()
        few = _("Cells with fewer than %(n)d rated posts are marked as few posts.") % {
            "n": FEW_POSTS
        }
        return [
            Chart(
                key="best-days",
                title=_("Engagement rate by weekday"),
                kind="bar",
                labels=day_names,
                series=[
                    Series(_("Engagement rate"), [cell.rate for cell in self.by_day]),
                    Series(_("Posts"), [cell.posts for cell in self.by_day]),
                ],
                unit="%",
                empty_text=_("No rated posts in the last year."),
            ),
            Chart(
                key="best-hours",
                title=_("Engagement rate by hour"),
                kind="bar",
                labels=[f"{hour:02d}:00" for hour in range(24)],
                series=[
                    Series(_("Engagement rate"), [cell.rate for cell in self.by_hour]),
                    Series(_("Posts"), [cell.posts for cell in self.by_hour]),
                ],
                unit="%",
                empty_text=_("No rated posts in the last year."),
            ),
            Chart(
                key="best-times",
                title=_("Engagement rate by weekday and hour"),
                kind="bar",
                labels=[f"{hour:02d}:00" for hour in range(24)],
                series=[
                    Series(name, [self.cells[(day, hour)].rate for hour in range(24)])
                    for day, name in enumerate(day_names)
                ],
                unit="%",
                empty_text=_("No rated posts in the last year."),
                notes=[few],
            ),
            Chart(
                key="best-times-posts",
                title=_("Posts by weekday and hour"),
                kind="bar",
                labels=[f"{hour:02d}:00" for hour in range(24)],
                series=[
                    Series(name, [self.cells[(day, hour)].posts for hour in range(24)])
                    for day, name in enumerate(day_names)
                ],
                empty_text=_("No posts in the last year."),
            ),
        ]


def weekday_names() -> list[str]:
    return [
        _("Monday"),
        _("Tuesday"),
        _("Wednesday"),
        _("Thursday"),
        _("Friday"),
        _("Saturday"),
        _("Sunday"),
    ]


def _cell(facts: list[PostFact]) -> Cell:
    rated = [fact for fact in facts if fact.rate is not None]
    return Cell(posts=len(facts), rated=len(rated), rate=mean_rate(rated))


def best_times(
    org: Organisation,
    *,
    until: date,
    channel: ChannelAccount | None = None,
    campaign: Campaign | None = None,
    pillar: Pillar | None = None,
) -> BestTimes:
    """Engagement rate by local weekday and hour over the organisation's own last year of
    posts (``BEST_TIMES_DAYS`` days up to ``until``), with post counts."""
    period = Period(until - timedelta(days=BEST_TIMES_DAYS - 1), until)
    start, end = period.bounds(org)
    groups: dict[tuple[int, int], list[PostFact]] = defaultdict(list)
    days: dict[int, list[PostFact]] = defaultdict(list)
    hours: dict[int, list[PostFact]] = defaultdict(list)
    for fact in post_facts(org, start, end, Scope(channel, campaign, pillar)):
        groups[(fact.weekday, fact.hour)].append(fact)
        days[fact.weekday].append(fact)
        hours[fact.hour].append(fact)
    return BestTimes(
        period=period,
        cells={(day, hour): _cell(groups[(day, hour)]) for day in range(7) for hour in range(24)},
        by_day=[_cell(days[day]) for day in range(7)],
        by_hour=[_cell(hours[hour]) for hour in range(24)],
    )


#: Charts whose series from this index on are counts of posts, not the chart's unit: drawn
#: against a second axis.
COUNT_SERIES_FROM = {"best-days": 1, "best-hours": 1}


def label_heading(chart: Chart) -> str:
    """The first column's heading in the table view and the CSV."""
    if chart.key == "networks":
        return _("Network")
    if chart.key == "best-days":
        return _("Weekday")
    if chart.key in ("best-hours", "best-times", "best-times-posts"):
        return _("Hour")
    if chart.key == "conversations-by-category":
        return _("Category")
    if chart.key == "conversations-by-unit":
        return _("Unit")
    return _("Date")


def as_number(value: Number) -> float | int | None:
    """A value for the chart script's JSON (Decimals are not JSON numbers)."""
    return float(value) if isinstance(value, Decimal) else value
