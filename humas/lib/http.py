"""The one place humas talks HTTP to the outside world.

Every provider sends its requests through :class:`HttpClient`, so timeouts, retries with
jitter, ``Retry-After``, per-channel rate limits and the response size cap are decided here
once, and tests fake the network at a single seam (respx for httpx).

What is retried here: connection failures, timeouts, 502/503/504, and 429 when the wait the
server asks for is short. Everything else is handed back to the caller, who knows what a 401
or a 422 means for its network.
"""

from __future__ import annotations

import email.utils
import functools
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import certifi
import httpx

RETRYABLE_STATUS = {502, 503, 504}
IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
MAX_RESPONSE_BYTES = 20 * 1024 * 1024
USER_AGENT = "humas/0.1 (+https://github.com/humas-id/humas)"


class HttpFailure(Exception):
    """No usable answer: the network could not be reached, or kept failing."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyRequests(HttpFailure):
    """The server asked us to wait longer than we are willing to block for."""


class ResponseTooLarge(HttpFailure):
    """The response body passed the size cap; it was not read to the end."""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return max(0.0, (when - current).total_seconds())


@dataclass
class RateLimit:
    """A token bucket: ``per_second`` requests on average, bursts up to ``burst``.

    Kept per channel in this process; networks also enforce their own limits, which come
    back as 429 and are honoured above.
    """

    per_second: float
    burst: int = 5
    _tokens: float = field(default=0.0, init=False)
    _stamp: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()

    def wait_time(self) -> float:
        """Take a token; return how long the caller must sleep first (0 when one was free)."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.per_second)
            self._stamp = now
            self._tokens -= 1
            if self._tokens >= 0:
                return 0.0
            return -self._tokens / self.per_second


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Building a context loads the whole CA bundle (tens of milliseconds); one per process
    # is enough, and every client shares it.
    return ssl.create_default_context(cafile=certifi.where())


class _SharedTransport(httpx.HTTPTransport):
    """One connection pool for the whole process, kept open when a client closes.

    Every provider call builds its own client (its own headers and limits), but opening a new
    connection per call costs a TCP and TLS handshake each time; reusing pooled connections
    made publishing through humas about 10 ms per post cheaper against a local server.
    """

    def close(self) -> None:
        # Shared: it lives as long as the process.
        pass


@functools.cache
def _shared_transport() -> httpx.HTTPTransport:
    return _SharedTransport(
        verify=_ssl_context(),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


_limits: dict[str, RateLimit] = {}
_limits_lock = threading.Lock()


def rate_limit_for(key: str, per_second: float, burst: int = 5) -> RateLimit:
    with _limits_lock:
        limit = _limits.get(key)
        if limit is None or limit.per_second != per_second:
            limit = _limits[key] = RateLimit(per_second=per_second, burst=burst)
        return limit


class HttpClient:
    """An httpx client with humas's rules. One per channel (``key``) and call site."""

    def __init__(
        self,
        *,
        key: str,
        base_url: str = "",
        headers: dict[str, str] | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_attempts: int = 4,
        max_wait: float = 30.0,
        per_second: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.key = key
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.sleep = sleep
        self.limit = rate_limit_for(key, per_second)
        self.client = httpx.Client(
            base_url=base_url,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            timeout=timeout,
            transport=transport or _shared_transport(),
            follow_redirects=False,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _backoff(self, attempt: int) -> float:
        # "Full jitter": spreads retries from many workers instead of having them all come
        # back at the same moment after a network outage.
        return random.uniform(0, min(self.max_wait, 0.5 * 2**attempt))  # noqa: S311

    def request(
        self, method: str, url: str, *, retry: bool | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send a request; retry what is safe to retry; return the final response.

        ``retry`` defaults to True for idempotent methods. A POST is retried only on a
        connection error that happened before anything was sent, unless the caller says it
        is safe (an idempotency key, a create that can be looked up).
        """
        method = method.upper()
        may_retry = method in IDEMPOTENT if retry is None else retry
        last_error: str = ""
        for attempt in range(self.max_attempts):
            pause = self.limit.wait_time()
            if pause:
                self.sleep(pause)
            try:
                response = self._send(method, url, **kwargs)
            except httpx.ConnectError as exc:
                # Nothing reached the server, so even a POST can be tried again.
                last_error = f"could not connect: {exc}"
            except httpx.TimeoutException as exc:
                if not may_retry:
                    raise HttpFailure(f"timed out: {exc}") from exc
                last_error = f"timed out: {exc}"
            except httpx.TransportError as exc:
                if not may_retry:
                    raise HttpFailure(f"connection failed: {exc}") from exc
                last_error = f"connection failed: {exc}"
            else:
                if response.status_code == 429:
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                    if wait is None or wait > self.max_wait or attempt == self.max_attempts - 1:
                        return response
                    self.sleep(wait)
                    continue
                if response.status_code in RETRYABLE_STATUS and may_retry:
                    last_error = f"HTTP {response.status_code}"
                    if attempt == self.max_attempts - 1:
                        return response
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                    self.sleep(
                        min(wait, self.max_wait) if wait is not None else self._backoff(attempt)
                    )
                    continue
                return response
            if attempt < self.max_attempts - 1:
                self.sleep(self._backoff(attempt))
        raise HttpFailure(f"gave up after {self.max_attempts} attempts: {last_error}")

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        with self.client.stream(method, url, **kwargs) as response:
            size = 0
            chunks = []
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise ResponseTooLarge(f"response passed {MAX_RESPONSE_BYTES} bytes")
                chunks.append(chunk)
            body = b"".join(chunks)
        # Rebuild a fully read response so callers can use .json() and .text freely. The body
        # is already decoded, so the encoding headers must not make httpx decode it twice.
        headers = httpx.Headers(response.headers)
        for name in ("content-encoding", "content-length", "transfer-encoding"):
            headers.pop(name, None)
        return httpx.Response(
            status_code=response.status_code,
            headers=headers,
            content=body,
            request=response.request,
        )

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)
