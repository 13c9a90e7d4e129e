"""Forms of the inbox pages: the list's filters and the conversation's actions."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from django import forms
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from humas.accounts.models import Unit, User
from humas.channels.models import ChannelAccount
from humas.inbox import search
from humas.inbox.actions import WARN_BEFORE
from humas.inbox.models import (
    URGENCY_RANK,
    Category,
    Conversation,
    Language,
    Sentiment,
    Status,
    Urgency,
    pending_due_expression,
)
from humas.publishing.models import MediaAsset

ORDERS = [("urgent", _("Most urgent first")), ("newest", _("Newest first"))]
DEADLINE_STATES = [
    ("", _("All")),
    ("ok", _("On time")),
    ("due_soon", _("Due soon")),
    ("breached", _("Overdue")),
]


def _all(choices: Any) -> list[tuple[str, Any]]:
    return [("", _("All")), *choices]


def _attrs(attrs: dict[str, Any]) -> SafeString:
    """``django/forms/widgets/attrs.html`` in Python."""
    return mark_safe(  # noqa: S308 - every part made by format_html
        "".join(
            format_html(" {}", name) if value is True else format_html(' {}="{}"', name, value)
            for name, value in attrs.items()
            if value is not False
        )
    )


class FastSelect(forms.Select):
    """A ``<select>`` rendered in Python, the same HTML as Django's ``select.html`` and
    ``select_option.html`` templates (without option groups, which the filters have none
    of): the list's filter form has about 75 options, and an include per option was a fifth
    of the inbox page's CPU. The options come straight from ``choices``: Django's
    ``optgroups`` builds a dict of attributes per option first, which cost as much again."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        chosen = next(iter(self.format_value(value)), None)
        html: list[str] = [
            format_html('<select name="{}"{}>', name, _attrs(self.build_attrs(self.attrs, attrs)))
        ]
        for option_value, label in self.choices:
            if isinstance(label, list | tuple):  # pragma: no cover - no filter has groups
                return super().render(name, value, attrs, renderer)
            option = "" if option_value is None else str(option_value)
            # Only the first option with the value is selected, as in Django's widget.
            selected = option == chosen
            if selected:
                chosen = None
            # What format_html would write, without its per-argument lazy-string checks
            # (three per option, a tenth of the page's CPU).
            text = label.__html__() if hasattr(label, "__html__") else escape(str(label))
            html.append(
                f'\n  <option value="{escape(option)}"{" selected" if selected else ""}>'
                f"{text}</option>\n"
            )
        html.append("\n</select>")
        return mark_safe("".join(html).strip())  # noqa: S308 - every part made by format_html


class _FastInput:
    """``django/forms/widgets/input.html`` in Python, for the filter form's text box and
    tick box (a template render each per request)."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]  # type: ignore[attr-defined]
        shown = widget["value"]
        value_html = "" if shown is None else f' value="{escape(str(shown))}"'
        return mark_safe(  # noqa: S308 - the name, value and attributes are escaped
            f'<input type="{escape(widget["type"])}" name="{escape(widget["name"])}"'
            f"{value_html}{_attrs(widget['attrs'])}>"
        )


class FastTextInput(_FastInput, forms.TextInput):
    pass


class FastCheckbox(_FastInput, forms.CheckboxInput):
    pass


def channel_label(channel: ChannelAccount) -> str:
    return f"{channel.display_name or channel.handle} · {channel.network_label}"


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.full_name or obj.email)


class ChannelChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return channel_label(obj)


class ChannelMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return channel_label(obj)


#: Each filter menu's (value, label) options, by field name.
Menus = dict[str, tuple[tuple[int, str], ...]]


def with_pending_due(rows: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Annotate ``pending_due_at``: the first-answer deadline until answered, then the
    resolution deadline (what :attr:`Conversation.pending_due` computes in Python)."""
    return rows.annotate(pending_due_at=pending_due_expression())


def _menu(label: Any) -> forms.TypedChoiceField:
    """A menu of the organisation's own rows (channels, units, members): its options are
    given per form (:meth:`InboxFilterForm.menus_of`), and a value is checked against them,
    not by a query: the options are exactly the rows the caller may filter by."""
    return forms.TypedChoiceField(
        label=label, required=False, coerce=int, empty_value=None, widget=FastSelect
    )


class InboxFilterForm(forms.Form):
    # Every <select> is a FastSelect; the fixed choices are built once, at import, and the
    # menus of channels, units and members are given to each form.
    q = forms.CharField(label=_("Search"), required=False, max_length=200, widget=FastTextInput)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=_all(Status.choices), widget=FastSelect
    )
    channel = _menu(_("Channel"))
    category = forms.ChoiceField(
        label=_("Category"), required=False, choices=_all(Category.choices), widget=FastSelect
    )
    urgency = forms.ChoiceField(
        label=_("Urgency"), required=False, choices=_all(Urgency.choices), widget=FastSelect
    )
    sentiment = forms.ChoiceField(
        label=_("Sentiment"), required=False, choices=_all(Sentiment.choices), widget=FastSelect
    )
    language = forms.ChoiceField(
        label=_("Language"), required=False, choices=_all(Language.choices), widget=FastSelect
    )
    unit = _menu(_("Unit"))
    assignee = _menu(_("Assigned to"))
    deadline = forms.ChoiceField(
        label=_("Deadline"), required=False, choices=DEADLINE_STATES, widget=FastSelect
    )
    order = forms.ChoiceField(label=_("Order"), required=False, choices=ORDERS, widget=FastSelect)
    show_hidden = forms.BooleanField(
        label=_("Show abuse and spam"), required=False, widget=FastCheckbox
    )

    #: What the list shows before anyone filters: open conversations, most urgent first.
    DEFAULTS = {"status": Status.OPEN, "order": "urgent"}

    #: The menus whose options are the organisation's own rows.
    MENUS = ("channel", "unit", "assignee")

    def __init__(self, *args: Any, menus: Menus, **kwargs: Any) -> None:
        """``menus``: each menu's options, :meth:`menus_of` the rows the caller may filter
        by (perhaps kept from an earlier request)."""
        super().__init__(*args, **kwargs)
        for name in self.MENUS:
            self.fields[name].choices = [("", _("All")), *menus[name]]  # type: ignore[attr-defined]

    @staticmethod
    def menus_of(
        channels: QuerySet[ChannelAccount], units: QuerySet[Unit], members: QuerySet[User]
    ) -> Menus:
        """Each menu's (value, label) options, from one query per menu. Tuples, so that a
        copy kept for later requests cannot be changed."""
        return {
            "channel": tuple((c.pk, channel_label(c)) for c in channels),
            "unit": tuple((u.pk, str(u)) for u in units),
            "assignee": tuple((m.pk, str(m.full_name or m.email)) for m in members),
        }

    #: How the fields were written by a template loop in ``inbox/list.html``; kept for the
    #: test that :meth:`fields_html` writes the same.
    FIELDS_TEMPLATE = (
        "{% for field in form %}"
        '<div class="field">{% if field.name == "show_hidden" %}{{ field }} '
        '<label for="{{ field.id_for_label }}">{{ field.label }}{{ form.label_suffix }}</label>'
        '{% else %}<label for="{{ field.id_for_label }}">{{ field.label }}'
        "{{ form.label_suffix }}</label> {{ field }}{% endif %}</div>{% endfor %}"
    )

    def fields_html(self) -> SafeString:
        """Each field in a ``div.field``, its label first (the tick box's after it): what a
        template loop wrote, at a tenth of the cost (the loop was a tenth of the page)."""
        parts = []
        for field in self:
            label = format_html(
                '<label for="{}">{}{}</label>', field.id_for_label, field.label, self.label_suffix
            )
            widget = field.as_widget()
            inner = f"{widget} {label}" if field.name == "show_hidden" else f"{label} {widget}"
            parts.append(f'<div class="field">{inner}</div>')
        return mark_safe("".join(parts))  # noqa: S308 - labels escaped, widgets safe HTML

    def filter(
        self, rows: QuerySet[Conversation], now: datetime | None = None
    ) -> QuerySet[Conversation]:
        now = now or timezone.now()
        data = self.cleaned_data if self.is_valid() else dict(self.DEFAULTS)
        for field in ("status", "category", "urgency", "sentiment", "language"):
            if data.get(field):
                rows = rows.filter(**{field: data[field]})
        for field in self.MENUS:
            if data.get(field):
                rows = rows.filter(**{f"{field}_id": data[field]})
        if not data.get("show_hidden") and data.get("category") != Category.SPAM:
            rows = (
                rows.exclude(abusive=True)
                .exclude(category=Category.SPAM)
                .exclude(contact__blocked_at__isnull=False)
            )
        rows = with_pending_due(rows)
        state = data.get("deadline")
        if state:
            pending = Q(status=Status.OPEN, pending_due_at__isnull=False)
            if state == "breached":
                rows = rows.filter(pending & Q(pending_due_at__lt=now))
            elif state == "due_soon":
                rows = rows.filter(
                    pending & Q(pending_due_at__gte=now, pending_due_at__lt=now + WARN_BEFORE)
                )
            else:
                rows = rows.exclude(pending & Q(pending_due_at__lt=now + WARN_BEFORE))
        if data.get("q"):
            rows = search.search(rows, data["q"].strip())
        # With one urgency chosen, "most urgent first" is "newest first": said so, the
        # database walks the newest-first index instead of sorting every match (29 ms → 2 ms
        # for one channel's urgent Indonesian messages over every status, at 1,000,000).
        if (data.get("order") or "urgent") == "urgent" and not data.get("urgency"):
            rank = Case(
                *[When(urgency=u, then=Value(r)) for u, r in URGENCY_RANK.items()],
                default=Value(9),
                output_field=IntegerField(),
            )
            return rows.annotate(urgency_rank=rank).order_by(
                "urgency_rank", "-last_message_at", "-pk"
            )
        return rows.order_by("-last_message_at", "-pk")


class MediaChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj} ({obj.alt_text})" if obj.alt_text else str(obj)


class ReplyForm(forms.Form):
    text = forms.CharField(label=_("Reply"), widget=forms.Textarea(attrs={"rows": 4}))
    attachments = MediaChoiceField(
        label=_("Attach from the media library"),
        required=False,
        queryset=MediaAsset.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(
        self, *args: Any, media: QuerySet[MediaAsset] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if media is not None:
            self.fields["attachments"].queryset = media  # type: ignore[attr-defined]


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Internal note"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only your colleagues see notes. Write @name to tell someone."),
    )


class AssignForm(forms.Form):
    assignee = MemberChoiceField(
        label=_("Assign to"),
        required=False,
        queryset=User.objects.none(),
        empty_label=_("Nobody"),
    )

    def __init__(self, *args: Any, members: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = members  # type: ignore[attr-defined]


class RouteForm(forms.Form):
    unit = forms.ModelChoiceField(
        label=_("Route to unit"),
        required=False,
        queryset=Unit.objects.none(),
        empty_label=_("No unit"),
    )

    def __init__(self, *args: Any, units: QuerySet[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units  # type: ignore[attr-defined]


class LabelForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices)
    sentiment = forms.ChoiceField(label=_("Sentiment"), choices=Sentiment.choices)


# --- routing rules, canned replies, cases -------------------------------------------------


class RuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    categories = forms.MultipleChoiceField(
        label=_("Category is any of"),
        required=False,
        choices=Category.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    urgencies = forms.MultipleChoiceField(
        label=_("Urgency is any of"),
        required=False,
        choices=Urgency.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    channels = ChannelMultipleChoiceField(
        label=_("Channel is any of"),
        required=False,
        queryset=ChannelAccount.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )
    languages = forms.MultipleChoiceField(
        label=_("Language is any of"),
        required=False,
        choices=Language.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    keywords = forms.CharField(
        label=_("Keywords"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One word or phrase per line; any of them, whole words, any case."),
    )
    places = forms.CharField(
        label=_("Place names"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kecamatan, kelurahan or village names, one per line; any of them."),
    )
    unit = forms.ModelChoiceField(
        label=_("Route to unit"), required=False, queryset=Unit.objects.none()
    )
    assignee = MemberChoiceField(label=_("Assign to"), required=False, queryset=User.objects.none())
    raise_urgency = forms.ChoiceField(
        label=_("Raise urgency to"),
        required=False,
        choices=[("", _("Leave as it is")), *Urgency.choices],
    )

    def __init__(
        self,
        *args: Any,
        channels: QuerySet[ChannelAccount],
        units: QuerySet[Unit],
        members: QuerySet[User],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channels"].queryset = channels  # type: ignore[attr-defined]
        self.fields["unit"].queryset = units  # type: ignore[attr-defined]
        self.fields["assignee"].queryset = members  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("unit") or data.get("assignee") or data.get("raise_urgency")):
            raise forms.ValidationError(
                _("Say what the rule does: route to a unit, assign, or raise the urgency.")
            )
        return data


class RuleTestForm(forms.Form):
    text = forms.CharField(
        label=_("Sample message"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )
    channel = ChannelChoiceField(
        label=_("Arriving on"),
        required=False,
        queryset=ChannelAccount.objects.none(),
        empty_label=_("Any channel"),
    )

    def __init__(self, *args: Any, channels: QuerySet[ChannelAccount], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = channels  # type: ignore[attr-defined]


class CannedReplyForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    text = forms.CharField(
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "You can use {name} (the citizen's name), {tracking_number} (the case's tracking "
            "number) and {unit} (the unit handling it)."
        ),
    )


class CaseStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=())
    public_note = forms.CharField(
        label=_("Public note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The citizen can read this on the status page. No personal data."),
    )
    internal_note = forms.CharField(
        label=_("Internal note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, statuses: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = statuses  # type: ignore[attr-defined]


class CaseForwardForm(forms.Form):
    unit = forms.ModelChoiceField(label=_("Forward to unit"), queryset=Unit.objects.none())
    public_note = forms.CharField(
        label=_("Public note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    internal_note = forms.CharField(
        label=_("Internal note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, units: QuerySet[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units  # type: ignore[attr-defined]


class CaseNoteForm(forms.Form):
    public_note = forms.CharField(
        label=_("Public note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    internal_note = forms.CharField(
        label=_("Internal note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class StatusLookupForm(forms.Form):
    number = forms.CharField(
        label=_("Tracking number"),
        max_length=60,
        widget=forms.TextInput(attrs={"placeholder": "LPR-2026-7KQ4-MX2D", "autocomplete": "off"}),
    )


class BulkResolveForm(forms.Form):
    conversations = forms.ModelMultipleChoiceField(queryset=Conversation.objects.none())

    def __init__(self, *args: Any, rows: QuerySet[Conversation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["conversations"].queryset = rows  # type: ignore[attr-defined]
