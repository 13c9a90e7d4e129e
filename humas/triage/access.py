"""Access helpers for the organisation's own triage model (see humas.accounts.access).

Teaching the engine changes how every message of the organisation is routed, so it is an
organisation setting: ``org.manage``, administrators only.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from humas.accounts.access import require
from humas.accounts.models import Organisation
from humas.triage.models import ModelVersion

PERMISSION = "org.manage"


def organisation_to_manage(request: HttpRequest) -> Organisation:
    return require(request, PERMISSION).organisation


def versions_for(request: HttpRequest) -> QuerySet[ModelVersion]:
    membership = require(request)
    return ModelVersion.objects.filter(organisation=membership.organisation).defer("weights")


def get_version_for(request: HttpRequest, version_id: int) -> ModelVersion:
    """Another organisation's version is a 404; a member without the right gets a 403."""
    version = get_object_or_404(versions_for(request), pk=version_id)
    require(request, PERMISSION)
    return version
