from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation


@pytest.fixture(autouse=True)
def _english(client: Client) -> Iterator[None]:
    """Pages, messages and command output in English, so tests match the source strings."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield
