from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PublishingConfig(AppConfig):
    name = "humas.publishing"
    label = "publishing"
    verbose_name = _("Publishing")

    def ready(self) -> None:
        from humas.publishing import signals  # noqa: F401  (connects the demo content)
