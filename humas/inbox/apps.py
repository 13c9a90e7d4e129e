from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InboxConfig(AppConfig):
    name = "humas.inbox"
    label = "inbox"
    verbose_name = _("Inbox")

    def ready(self) -> None:
        from humas.inbox import signals  # noqa: F401  (threads new inbound events)
