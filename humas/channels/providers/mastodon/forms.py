"""The server address and the forms that ask for it (OAuth) or for a token."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.utils.translation import gettext_lazy as _

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def normalise_instance(value: str) -> str:
    """``mastodon.social`` or ``https://mastodon.social/`` → ``https://mastodon.social``.

    Raises ValueError with a sentence for the editor. Plain http is allowed only for this
    machine (a development server); anything else would send the token in clear.
    """
    raw = (value or "").strip()
    if not raw:
        raise ValueError(str(_("Enter the address of the Mastodon server.")))
    if "://" not in raw:
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ValueError(
            str(_("Enter a server address such as https://mastodon.social."))
        ) from None
    host = parts.hostname or ""
    if (
        parts.scheme not in ("https", "http")
        or not host
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
        or parts.path not in ("", "/")
    ):
        raise ValueError(str(_("Enter a server address such as https://mastodon.social.")))
    if parts.scheme != "https" and host not in LOCAL_HOSTS:
        raise ValueError(
            str(
                _(
                    "The server address must start with https://: humas never sends an "
                    "account's token over an unencrypted connection."
                )
            )
        )
    shown_host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown_host}" + (f":{port}" if port else "")


class InstanceField(forms.CharField):
    def clean(self, value: Any) -> str:
        cleaned = super().clean(value)
        try:
            return normalise_instance(cleaned)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class ConnectForm(forms.Form):
    """Asked before the OAuth flow: which server the account lives on."""

    instance = InstanceField(
        label=_("Server address"),
        max_length=200,
        help_text=_(
            "The Mastodon server the account lives on, for example https://mastodon.social."
        ),
    )


class TokenForm(ConnectForm):
    """The alternative to OAuth: a token the agency created on its server."""

    access_token = forms.CharField(
        label=_("Access token"),
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        help_text=_(
            "On the server, open Preferences → Development → New application, give it the "
            "scopes read:accounts, read:notifications, read:statuses, write:conversations, "
            "write:media and write:statuses, save it and copy “Your access token” here."
        ),
    )
