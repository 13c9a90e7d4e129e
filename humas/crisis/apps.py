from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrisisConfig(AppConfig):
    name = "humas.crisis"
    label = "crisis"
    verbose_name = _("Crisis")

    def ready(self) -> None:
        # The inbox may not import crisis: crisis hands it the active incidents' sections.
        from humas.crisis.incident_messages import inbox_sections
        from humas.inbox import first

        first.register(inbox_sections)
