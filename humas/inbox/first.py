"""What the inbox lists above everything else: sections other apps provide.

The inbox may not import the apps built on it (crisis, analytics), so they register a
provider here instead, from their ``AppConfig.ready``. A provider is called with the
organisation and the caller's membership on every full view of the inbox list (and on its
periodic refresh of these sections) and returns :class:`Section` objects, in the order they
should appear.

Contract for providers:

* be cheap: a couple of queries, none when there is nothing to show;
* return conversations of ``organisation`` only, at most a screenful per section;
* do not decide what the caller may see: the inbox reads every conversation again through
  its own access helpers (a unit agent sees only their unit's) and masks personal data as in
  the list, so a provider cannot widen anyone's view.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from humas.accounts.models import Membership, Organisation
from humas.inbox.models import Conversation

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Section:
    title: str
    #: A page about the section's subject (an incident's page), or None when the caller may
    #: not open it.
    url: str | None
    conversations: list[Conversation] = field(default_factory=list)


Provider = Callable[[Organisation, Membership], list[Section]]

_PROVIDERS: list[Provider] = []


def register(func: Provider) -> Provider:
    """Add a provider (once, however often an app's ``ready`` runs)."""
    if func not in _PROVIDERS:
        _PROVIDERS.append(func)
    return func


def sections_for(organisation: Organisation, membership: Membership) -> list[Section]:
    sections: list[Section] = []
    for provider in _PROVIDERS:
        try:
            sections.extend(provider(organisation, membership))
        except Exception:
            # The inbox is the page responders keep open during a crisis: a broken extra
            # section must not take the list down with it.
            logger.exception("inbox section provider %s failed", provider.__qualname__)
    return sections
