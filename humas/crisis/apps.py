from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrisisConfig(AppConfig):
    name = "humas.crisis"
    label = "crisis"
    verbose_name = _("Crisis")

    def ready(self) -> None:
        # The inbox may not import crisis: crisis hands it the active incidents' sections.
        from humas.inbox import first

        first.register(_inbox_sections)


def _inbox_sections(organisation: Any, membership: Any) -> Any:
    # Imported on first use: the module pulls in spike detection, a second of start-up that
    # every process (each worker, each management command) would otherwise pay.
    from humas.crisis.incident_messages import inbox_sections

    return inbox_sections(organisation, membership)
