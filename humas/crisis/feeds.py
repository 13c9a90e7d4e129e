"""Polling CAP 1.2 feeds: fetch a publisher's list, fetch each new CAP file, store it.

The rules (see ``docs/cap.md``, "Feeds and the organisation's area"):

- A feed is polled no more often than its ``min_interval``, and every host gets at most
  :data:`PER_HOST_PER_MINUTE` requests a minute from this process, lists and CAP files
  together (BMKG asks for fewer than 60). A file not fetched for want of budget is simply
  fetched on a later poll: it is not stored until it has been read.
- Items already stored (same guid/identifier, or same address) are not fetched again; an
  alert fetched again anyway is recognised by its CAP key and not stored twice.
- Every alert is kept, valid or not; only a valid, unexpired, ``Actual`` alert for the
  organisation's area is notified, and only valid Updates and Cancels supersede.
- A feed that is down, slow or sends garbage gets ``last_error``; the others go on.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

import httpx
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from humas.channels.providers.base import ProviderError
from humas.channels.providers.rss.provider import checked_target
from humas.crisis import areas, cap
from humas.crisis.models import CapAlert, CapFeed, CapFeedKind, CrisisArea
from humas.lib.http import HttpClient, HttpFailure

logger = logging.getLogger(__name__)

PER_HOST_PER_MINUTE = 60
#: Lists and CAP files larger than this are not read (the CAP reader's own limit).
MAX_FILE_BYTES = cap.MAX_BYTES
#: A slow publisher must not hold the job past its next run.
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
#: The CAP XML kept with an alert; larger files are kept parsed, their XML cut here.
MAX_RAW_CHARS = 256 * 1024
MAX_REDIRECTS = 3
ACCEPT = "application/cap+xml, application/rss+xml, application/atom+xml, application/xml;q=0.9"


class HostBudget:
    """At most ``per_minute`` requests to each host in any 60 seconds, counted in this
    process (the job runs in one worker; a second worker would have its own budget)."""

    def __init__(self, per_minute: int = PER_HOST_PER_MINUTE) -> None:
        self.per_minute = per_minute
        self._sent: dict[str, deque[datetime]] = {}

    def take(self, host: str, now: datetime) -> bool:
        """Spend one request on ``host`` if the last minute leaves room."""
        sent = self._sent.setdefault(host, deque())
        while sent and sent[0] <= now - timedelta(minutes=1):
            sent.popleft()
        if len(sent) >= self.per_minute:
            return False
        sent.append(now)
        return True


BUDGET = HostBudget()


@dataclass
class PollResult:
    polled: bool = False
    stored: list[CapAlert] = field(default_factory=list)
    skipped: int = 0  # items already stored
    deferred: int = 0  # items left for a later poll (host budget spent)
    error: str = ""


class FetchError(Exception):
    pass


@dataclass
class _Fetcher:
    budget: HostBudget
    now: datetime
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] | None = None

    def get(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response | None:
        """GET ``url`` (following a few redirects, each address checked), or None when the
        host's budget is spent. FetchError for anything that is not an answer."""
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            host = urlsplit(current).hostname or ""
            if not self.budget.take(host, self.now):
                return None
            try:
                target = checked_target(current)
            except ProviderError as exc:
                raise FetchError(str(exc)) from exc
            client = HttpClient(
                key=f"cap:{host}",
                headers={"Accept": ACCEPT},
                timeout=TIMEOUT,
                # The job comes back every minute: a retry now would only spend budget.
                max_attempts=1,
                per_second=PER_HOST_PER_MINUTE / 60,
                transport=self.transport,
                sleep=self.sleep or time.sleep,
            )
            with client:
                try:
                    response = client.get(
                        target.url,
                        headers={**(headers or {}), **target.headers},
                        extensions=target.extensions,
                    )
                except HttpFailure as exc:
                    # A timeout or a refused connection: the publisher is down or slow.
                    raise FetchError(
                        _("The publisher could not be reached: %(reason)s") % {"reason": exc}
                    ) from exc
            if response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("Location", "").strip()
                if not location:
                    raise FetchError(
                        _("HTTP %(status)s without a new address.")
                        % {"status": response.status_code}
                    )
                current = urljoin(current, location)
                continue
            if response.status_code != 304 and response.status_code >= 400:
                raise FetchError(
                    _("The publisher answered HTTP %(status)s.") % {"status": response.status_code}
                )
            if len(response.content) > MAX_FILE_BYTES:
                raise FetchError(
                    _("The file is larger than %(bytes)s bytes; it was not read.")
                    % {"bytes": MAX_FILE_BYTES}
                )
            return response
        raise FetchError(_("Too many redirects."))


def is_due(feed: CapFeed, now: datetime) -> bool:
    return feed.last_polled_at is None or now - feed.last_polled_at >= timedelta(
        seconds=feed.min_interval
    )


def poll(
    feed: CapFeed,
    now: datetime | None = None,
    *,
    budget: HostBudget | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
) -> PollResult:
    """One poll of ``feed`` if it is due and its host has budget; never raises for what
    the publisher does (the failure goes to ``feed.last_error``)."""
    now = now or timezone.now()
    result = PollResult()
    if not is_due(feed, now):
        return result
    fetcher = _Fetcher(budget=budget or BUDGET, now=now, transport=transport, sleep=sleep)
    conditional = {}
    if feed.etag:
        conditional["If-None-Match"] = feed.etag
    if feed.last_modified:
        conditional["If-Modified-Since"] = feed.last_modified
    try:
        response = fetcher.get(feed.url, conditional)
    except FetchError as exc:
        return _failed(feed, now, result, str(exc))
    if response is None:
        # No budget left for this host this minute: not polled, so still due next run.
        return result
    result.polled = True
    feed.last_polled_at = now
    if response.status_code == 304:
        feed.last_error = ""
        feed.save(update_fields=["last_polled_at", "last_error"])
        return result
    try:
        if feed.kind == CapFeedKind.SINGLE:
            items = [cap.FeedItem(link=feed.url)]
            bodies = {feed.url: response.content}
        else:
            items = cap.feed_links(response.content, base_url=feed.url)
            bodies = {}
    except cap.CapError as exc:
        return _failed(feed, now, result, "; ".join(exc.problems))
    errors = []
    for item in items:
        # A single alert's address may carry a new alert next time: it is read each time
        # (the CAP key still keeps it from being stored twice).
        if feed.kind != CapFeedKind.SINGLE and _already_stored(feed, item):
            result.skipped += 1
            continue
        data = bodies.get(item.link)
        if data is None:
            try:
                fetched = fetcher.get(item.link)
            except FetchError as exc:
                errors.append(f"{item.link}: {exc}")
                continue
            if fetched is None:
                result.deferred += 1
                continue
            data = fetched.content
        stored = store(feed, data, url=item.link, now=now)
        if stored is not None:
            result.stored.append(stored)
    if not result.deferred and not errors:
        # Only once every item was read: a validator kept after a partial read would make
        # the publisher answer 304 and the deferred items would never be fetched.
        feed.etag = response.headers.get("ETag", "")[:200]
        feed.last_modified = response.headers.get("Last-Modified", "")[:100]
    feed.last_error = "\n".join(errors)[:2000]
    feed.save(update_fields=["last_polled_at", "last_error", "etag", "last_modified"])
    result.error = feed.last_error
    return result


def _failed(feed: CapFeed, now: datetime, result: PollResult, error: str) -> PollResult:
    feed.last_polled_at = now
    feed.last_error = error[:2000]
    feed.save(update_fields=["last_polled_at", "last_error"])
    result.error = feed.last_error
    return result


def _already_stored(feed: CapFeed, item: cap.FeedItem) -> bool:
    known = Q(url=item.link)
    if item.guid:
        known |= Q(identifier=item.guid)
    return CapAlert.objects.filter(known, organisation_id=feed.organisation_id).exists()


def _area_of(org_id: int) -> tuple[list[str], list[cap.Point]]:
    area = CrisisArea.objects.filter(organisation_id=org_id).first()
    if area is None:
        return [], []
    return list(area.place_names), [(float(p[0]), float(p[1])) for p in area.polygon]


def store(feed: CapFeed, data: bytes, *, url: str, now: datetime) -> CapAlert | None:
    """Keep one CAP file for the feed's organisation; return the new row, or None when the
    same alert (by CAP key) is already stored. Notifies through
    :func:`humas.crisis.actions.alert_received` when it should."""
    from humas.crisis.actions import alert_received

    problems = cap.validate(data)
    try:
        alert: cap.Alert | None = cap.parse(data)
    except cap.CapError as exc:
        alert = None
        problems = problems or exc.problems
    org_id = feed.organisation_id
    row = CapAlert(
        organisation_id=org_id,
        feed=feed,
        url=url[:500],
        raw_xml=data[:MAX_RAW_CHARS].decode("utf-8", errors="replace"),
        problems=problems,
        received_at=now,
    )
    if alert is None:
        # Nothing readable: kept once per address, so that people see the publisher sent
        # something broken.
        if CapAlert.objects.filter(organisation_id=org_id, url=row.url, sent=None).exists():
            return None
        row.identifier = url[-200:]
        row.save()
        return row
    if CapAlert.objects.filter(
        organisation_id=org_id, sender=alert.sender, identifier=alert.identifier, sent=alert.sent
    ).exists():
        return None
    info = alert.info_for("id")
    _fill(row, alert, info)
    row.expired_on_arrival = alert.is_expired(now)
    places, polygon = _area_of(org_id)
    row.matches_area = areas.alert_matches(alert, places, polygon)
    try:
        with transaction.atomic():
            row.save()
            if not problems:
                _supersede(row, alert)
    except IntegrityError:
        # Another run stored the same key in the meantime.
        return None
    alert_received(row, now)
    return row


def _fill(row: CapAlert, alert: cap.Alert, info: cap.Info | None) -> None:
    row.sender = alert.sender[:200]
    row.identifier = alert.identifier[:200]
    row.sent = alert.sent
    row.msg_type = alert.msg_type[:20]
    row.status = alert.status[:20]
    row.parsed = alert.as_dict()
    if info is not None:
        row.event = info.event[:200]
        row.urgency = info.urgency[:20]
        row.severity = info.severity[:20]
        row.certainty = info.certainty[:20]
        row.onset = info.onset
        row.headline = info.headline[:300]
        row.area_desc = "; ".join(a.desc for a in info.areas)
    expiries = [i.expires for i in alert.infos if i.expires is not None]
    # The alert lasts as long as its longest-lived info block (cap.Alert.is_expired).
    if expiries and len(expiries) == len(alert.infos):
        row.expires = max(expiries)


def _supersede(row: CapAlert, alert: cap.Alert) -> None:
    """Point the alerts this Update or Cancel replaces at it. A Cancel (which usually has no
    area of its own) concerns our area when what it withdraws did."""
    if not alert.replaces:
        return
    keys = Q(pk__in=[])
    for sender, identifier, sent in alert.replaces:
        keys |= Q(sender=sender, identifier=identifier, sent=sent)
    replaced = CapAlert.objects.filter(keys, organisation_id=row.organisation_id)
    if not row.matches_area and not alert.infos and replaced.filter(matches_area=True).exists():
        row.matches_area = True
        row.save(update_fields=["matches_area"])
    if alert.msg_type == "Cancel":
        replaced.update(superseded_by=row, cancelled=True)
    else:
        replaced.update(superseded_by=row)


def poll_all(
    now: datetime | None = None,
    *,
    budget: HostBudget | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """:func:`poll` every enabled feed that is due; return how many alerts were stored.
    One feed failing in an unexpected way does not keep the others from being polled."""
    now = now or timezone.now()
    stored = 0
    for feed in CapFeed.objects.filter(enabled=True).order_by(
        F("last_polled_at").asc(nulls_first=True), "pk"
    ):
        try:
            stored += len(poll(feed, now, budget=budget, transport=transport, sleep=sleep).stored)
        except Exception:
            logger.exception("polling CAP feed %s failed", feed.pk)
    return stored
