"""Bluesky's HTTP: the SDK's request class on humas's choke point, and its errors mapped.

The SDK keeps building URLs, headers (the session's bearer token) and its error classes;
:class:`HttpClient` decides timeouts, retries, the per-channel rate limit and the size cap
like for every other network, and tests fake it at the same seam (respx, ``transport``).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from atproto_client import exceptions as sdk
from atproto_client.models.common import XrpcError
from atproto_client.request import Request, RequestBase, Response, _handle_response

from humas.channels.providers.base import ErrorKind, ProviderError, failure_to_error
from humas.lib.http import USER_AGENT, HttpClient, HttpFailure


class HumasRequest(Request):
    """The SDK's request class with :class:`HttpClient` underneath instead of its own client.

    The SDK keeps building URLs, headers (the session's bearer token) and its error
    classes; HttpClient decides timeouts, retries and the rate limit like for every other
    network. Only idempotent requests are retried, plus ``uploadBlob``: a blob is addressed
    by its content, so sending the same bytes twice stores one blob.
    """

    def __init__(self, http: HttpClient) -> None:
        RequestBase.__init__(self)
        self._http = http
        # Both names, so that a network operator reading its logs knows who is calling.
        sdk_agent = RequestBase._MANDATORY_HEADERS.get("User-Agent", "")
        self.add_additional_header("User-Agent", f"{USER_AGENT} {sdk_agent}".strip())

    def _new_instance(self) -> HumasRequest:
        return type(self)(self._http)

    def _send_request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = self.get_headers(kwargs.pop("headers", None))
        if isinstance(kwargs.get("data"), bytes):
            # The SDK hands a blob over as ``data``; httpx wants raw bytes as ``content``.
            kwargs["content"] = kwargs.pop("data")
        retry = True if url.endswith("/com.atproto.repo.uploadBlob") else None
        try:
            response = self._http.request(method, url, headers=headers, retry=retry, **kwargs)
        except HttpFailure as exc:
            raise failure_to_error(exc, _nsid(url)) from exc
        return sdk_handle_response(response)

    def close(self) -> None:
        self._http.close()

    def get(self, *args: Any, **kwargs: Any) -> Response:
        return _parsed(self._send_request("GET", *args, **kwargs))

    def post(self, *args: Any, **kwargs: Any) -> Response:
        return _parsed(self._send_request("POST", *args, **kwargs))


def sdk_handle_response(response: httpx.Response) -> httpx.Response:
    """The SDK's status-to-exception mapping, kept so that its error classes stay meaningful."""
    return _handle_response(response)


def _parsed(response: httpx.Response) -> Response:
    content: Any = response.content
    if "application/json" in response.headers.get("content-type", "").lower():
        try:
            content = json.loads(response.content)
        except ValueError as exc:
            # A cut connection or a proxy's error page: worth trying again later.
            raise ProviderError(
                f"{_nsid(str(response.request.url))}: Bluesky answered with broken JSON.",
                ErrorKind.TRANSIENT,
                status=response.status_code,
            ) from exc
    return Response(
        success=True,
        status_code=response.status_code,
        content=content,
        headers={k.lower(): v for k, v in response.headers.items()},
    )


def _nsid(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1] or "Bluesky"


def error_name(exc: sdk.RequestErrorBase) -> str:
    content = exc.response.content if exc.response is not None else None
    if isinstance(content, XrpcError):
        return str(content.error or "")
    if isinstance(content, dict):
        return str(content.get("error") or "")
    return ""


def _error_message(exc: sdk.RequestErrorBase) -> str:
    content = exc.response.content if exc.response is not None else None
    if isinstance(content, XrpcError):
        return str(content.message or content.error or "")
    if isinstance(content, dict):
        return str(content.get("message") or content.get("error") or "")
    if isinstance(content, bytes):
        return content[:200].decode("utf-8", "replace").strip()
    return ""


def to_provider_error(exc: sdk.RequestErrorBase, nsid: str) -> ProviderError:
    """Map an SDK request error (its response's status and XRPC error name) to a kind."""
    response = exc.response
    if response is None:
        # No answer at all: a timeout or a dropped connection.
        what = "timed out" if isinstance(exc, sdk.InvokeTimeoutError) else "could not connect"
        return ProviderError(f"{nsid}: Bluesky {what}.", ErrorKind.TRANSIENT)
    status = response.status_code
    name = error_name(exc)
    detail = _error_message(exc)
    message = (
        f"{nsid}: HTTP {status}"
        + (f" {name}" if name else "")
        + (f" — {detail}" if detail and detail != name else "")
    )
    if status == 429 or isinstance(exc, sdk.RateLimitExceededError):
        return ProviderError(
            message, ErrorKind.RATE_LIMITED, retry_after=_retry_after(response), status=status
        )
    if status in (401, 403) or name in ("AuthenticationRequired", "InvalidToken", "ExpiredToken"):
        return ProviderError(message, ErrorKind.AUTH, status=status)
    if name in ("AccountTakedown", "AccountDeactivated"):
        return ProviderError(message, ErrorKind.AUTH, status=status)
    if status == 413:
        return ProviderError(
            f"{nsid}: Bluesky refused the file as too large (HTTP 413"
            + (f" {name}" if name else "")
            + ").",
            ErrorKind.PERMANENT,
            status=status,
        )
    if status >= 500 or status == 408:
        return ProviderError(message, ErrorKind.TRANSIENT, status=status)
    return ProviderError(message, ErrorKind.PERMANENT, status=status)


def _retry_after(response: Response) -> float:
    """Seconds until Bluesky's rate-limit window resets (``ratelimit-reset`` is epoch seconds)."""
    headers = response.headers
    value = headers.get("retry-after")
    if value and str(value).strip().isdigit():
        return float(value)
    reset = headers.get("ratelimit-reset")
    if reset and str(reset).strip().isdigit():
        return max(1.0, float(reset) - time.time())
    return 60.0
