"""The networks humas can connect, one line each.

Values are import paths so that a network's SDK is imported only when that network is used
(a Telegram-only installation never loads the Bluesky SDK).
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from humas.channels.providers.base import Provider

REGISTRY: dict[str, str] = {
    "bluesky": "humas.channels.providers.bluesky.provider.BlueskyProvider",
    "mastodon": "humas.channels.providers.mastodon.provider.MastodonProvider",
    "telegram": "humas.channels.providers.telegram.provider.TelegramProvider",
    "email": "humas.channels.providers.email.provider.EmailProvider",
    "rss": "humas.channels.providers.rss.provider.RssProvider",
}


class UnknownNetwork(KeyError):
    pass


@cache
def provider_class(network: str) -> type[Provider]:
    try:
        path = REGISTRY[network]
    except KeyError:
        raise UnknownNetwork(network) from None
    module_name, class_name = path.rsplit(".", 1)
    cls: type[Provider] = getattr(import_module(module_name), class_name)
    return cls


def available_networks() -> list[str]:
    """Networks whose provider module is present (all of REGISTRY in a full install)."""
    found = []
    for network in REGISTRY:
        try:
            provider_class(network)
        except ImportError:
            continue
        found.append(network)
    return found
