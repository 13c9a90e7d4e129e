from __future__ import annotations

import logging
import secrets
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.db.models import Count, Max
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from humas.accounts import access as account_access
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.channels import access, actions, alerts
from humas.channels.models import ChannelAccount, ChannelStatus
from humas.channels.providers import REGISTRY, UnknownNetwork, provider_class
from humas.channels.providers.base import ErrorKind, ProviderError

logger = logging.getLogger(__name__)

SESSION_OAUTH = "humas_channel_oauth"
WEBHOOK_MAX_BYTES = 1_000_000


def _networks() -> list[dict[str, Any]]:
    found = []
    for network in REGISTRY:
        try:
            cls = provider_class(network)
        except ImportError:
            continue
        found.append({"network": network, "label": cls.label, "oauth": cls.uses_oauth})
    return found


@login_required
def channel_list(request: HttpRequest) -> HttpResponse:
    channels = (
        access.channels_for(request)
        .annotate(event_count=Count("events", distinct=True), last_event=Max("events__created_at"))
        .order_by("network", "handle")
    )
    return render(request, "channels/list.html", {"channels": channels, "networks": _networks()})


def _provider_error_message(exc: ProviderError) -> str:
    if exc.kind == ErrorKind.AUTH:
        return _("The network refused these credentials: %(error)s") % {"error": exc.message}
    if exc.kind in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED):
        return _(
            "The network could not be reached just now; try again in a minute. (%(error)s)"
        ) % {"error": exc.message}
    return _("The network refused the request: %(error)s") % {"error": exc.message}


@login_required
def channel_connect(request: HttpRequest, network: str) -> HttpResponse:
    org = account_access.organisation_for(request, "channels.manage")
    try:
        cls = provider_class(network)
    except (UnknownNetwork, ImportError):
        raise Http404(network) from None
    use_token = request.GET.get("with") == "token" and cls.token_form is not None
    form_class = cls.token_form if use_token else cls.connect_form
    if form_class is None:
        raise Http404(network)
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if cls.uses_oauth and not use_token:
            return _oauth_start(request, network, form.cleaned_data)
        try:
            channel = actions.connect_channel(
                org, network, form.cleaned_data, by=Actor.from_request(request)
            )
        except ProviderError as exc:
            form.add_error(None, _provider_error_message(exc))
        else:
            messages.success(request, _("%(channel)s is connected.") % {"channel": str(channel)})
            return redirect("channels:detail", channel_id=channel.pk)
    return render(
        request,
        "channels/connect.html",
        {
            "form": form,
            "label": cls.label,
            "network": network,
            "token_form_available": cls.token_form is not None and not use_token,
        },
    )


def _oauth_start(request: HttpRequest, network: str, data: dict[str, Any]) -> HttpResponse:
    cls = provider_class(network)
    state = secrets.token_urlsafe(24)
    redirect_uri = settings.SITE_URL + reverse("channels:oauth_callback")
    provider = cls(credentials={}, config=data)
    try:
        url, pending = provider.oauth_start(redirect_uri, state)
    except ProviderError as exc:
        messages.error(request, _provider_error_message(exc))
        return redirect("channels:connect", network=network)
    request.session[SESSION_OAUTH] = {"network": network, "state": state, "pending": pending}
    return redirect(url)


@login_required
def oauth_callback(request: HttpRequest) -> HttpResponse:
    org = account_access.organisation_for(request, "channels.manage")
    pending = request.session.pop(SESSION_OAUTH, None)
    state = request.GET.get("state", "")
    if not pending or not secrets.compare_digest(state, pending.get("state", "")):
        messages.error(
            request, _("The connection could not be finished (the link expired). Start again.")
        )
        return redirect("channels:list")
    if request.GET.get("error") or not request.GET.get("code"):
        messages.error(request, _("The network did not grant access."))
        return redirect("channels:list")
    network = pending["network"]
    redirect_uri = settings.SITE_URL + reverse("channels:oauth_callback")
    try:
        connection = provider_class(network).oauth_finish(
            pending["pending"], request.GET["code"], redirect_uri
        )
        channel = actions.save_connection(org, network, connection, by=Actor.from_request(request))
        actions.setup_delivery(channel)
    except ProviderError as exc:
        messages.error(request, _provider_error_message(exc))
        return redirect("channels:list")
    messages.success(request, _("%(channel)s is connected.") % {"channel": str(channel)})
    return redirect("channels:detail", channel_id=channel.pk)


@login_required
def channel_detail(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = access.get_channel_for(request, channel_id)
    membership = account_access.require(request)
    events = (
        channel.events.order_by("-created_at")[:20] if membership.has_perm("inbox.view") else []
    )
    webhook_url = ""
    if channel.provider_class.capabilities.webhooks:
        webhook_url = settings.SITE_URL + reverse("channels:webhook", args=[channel.webhook_token])
    return render(
        request,
        "channels/detail.html",
        {
            "channel": channel,
            "events": events,
            "posts": channel.posts.order_by("-published_at")[:10],
            "webhook_url": webhook_url,
            "capabilities": channel.provider_class.capabilities,
            "can_send_alerts": channel.network == "telegram",
            "warnings": channel.provider().health_warnings()
            if channel.status != ChannelStatus.DISABLED
            else [],
        },
    )


@login_required
@require_POST
def channel_test(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = access.get_channel_for(request, channel_id, write=True)
    if channel.status == ChannelStatus.DISABLED:
        messages.error(request, _("This channel is disconnected; connect it again first."))
    elif actions.test_connection(channel, by=Actor.from_request(request)):
        messages.success(request, _("The connection works."))
    else:
        messages.error(
            request, _("The connection failed: %(error)s") % {"error": channel.last_error}
        )
    return redirect("channels:detail", channel_id=channel.pk)


@login_required
@require_POST
def channel_disconnect(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = access.get_channel_for(request, channel_id, write=True)
    actions.disconnect_channel(channel, by=Actor.from_request(request))
    messages.success(
        request,
        _("%(channel)s is disconnected and its credentials were deleted.")
        % {"channel": str(channel)},
    )
    return redirect("channels:detail", channel_id=channel.pk)


@login_required
@require_POST
def channel_alerts(request: HttpRequest, channel_id: int) -> HttpResponse:
    """Choose whether this Telegram channel's bot writes the organisation's alerts."""
    channel = access.get_channel_for(request, channel_id, write=True)
    wanted = request.POST.get("sends_alerts") == "on"
    try:
        alerts.set_alert_bot(channel, sends_alerts=wanted, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        if wanted:
            messages.success(
                request,
                _(
                    "The bot of %(channel)s now sends alerts to members who linked their "
                    "Telegram on their Security page."
                )
                % {"channel": str(channel)},
            )
        else:
            messages.success(request, _("This bot no longer sends alerts to members."))
    return redirect("channels:detail", channel_id=channel.pk)


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, token: str) -> HttpResponse:
    """Receive a network's push delivery for one channel.

    Order matters: find the channel, check the signature or secret, and only then read the
    payload. Anything wrong is a 4xx (the network may retry, an attacker learns nothing); a
    redelivery of the same events is stored once.
    """
    channel = (
        ChannelAccount.objects.filter(webhook_token=token, status=ChannelStatus.ACTIVE)
        .select_related("organisation")
        .first()
    )
    if channel is None or not channel.provider_class.capabilities.webhooks:
        return JsonResponse({"error": "unknown channel"}, status=404)
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > WEBHOOK_MAX_BYTES:
        return JsonResponse({"error": "payload too large"}, status=413)
    try:
        provider = channel.provider()
        if not provider.verify_webhook(request):
            logger.warning("webhook for channel %s: signature or token did not match", channel.pk)
            return JsonResponse({"error": "signature does not match"}, status=403)
        events = provider.parse_webhook(request)
    except RequestDataTooBig:
        return JsonResponse({"error": "payload too large"}, status=413)
    except ProviderError as exc:
        logger.warning("webhook for channel %s refused: %s", channel.pk, exc)
        return JsonResponse({"error": "malformed payload"}, status=400)
    stored = actions.store_events(channel, events)
    return JsonResponse({"received": len(events), "new": len(stored)})
