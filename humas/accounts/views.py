from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from humas.accounts import access, actions, twofactor
from humas.accounts.audit import Actor, client_ip
from humas.accounts.forms import (
    AuditFilterForm,
    CodeForm,
    InviteForm,
    JoinForm,
    LoginForm,
    MemberForm,
    OrganisationSettingsForm,
    UnitForm,
)
from humas.accounts.middleware import SESSION_ORG_KEY
from humas.accounts.models import Invitation, TelegramLinkCode, User
from humas.accounts.signals import telegram_alert_bot

SESSION_NEW_CODES = "humas_new_backup_codes"


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _action_error(request: HttpRequest, exc: actions.ActionError) -> None:
    messages.error(request, str(exc))


# --- signing in and out ---------------------------------------------------------------


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    messages.info(request, _("You have signed out."))
    return redirect("accounts:login")


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the interface language; remembered in a cookie and on the account."""
    language = request.POST.get("language", "")
    response = HttpResponseRedirect(_safe_next(request, reverse("home")))
    if language not in dict(settings.LANGUAGES):
        return response
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=True,
    )
    if request.user.is_authenticated and request.user.language != language:  # type: ignore[union-attr]
        request.user.language = language  # type: ignore[union-attr]
        request.user.save(update_fields=["language"])  # type: ignore[union-attr]
    return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def get_form(self, form_class: Any = None) -> Any:
        form = super().get_form(form_class)
        form.fields["email"].label = _("E-mail address")
        return form

    def form_valid(self, form: Any) -> HttpResponse:
        # Links in the e-mail must point at the public address, whatever Host the request had.
        split = settings.SITE_URL.split("://", 1)
        self.extra_email_context = {"site_url": settings.SITE_URL}
        self.domain_override = split[1] if len(split) == 2 else None
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        actions.record_password_reset(form.user, ip=client_ip(self.request))
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:security")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        actions.record_password_change(
            form.user, ip=client_ip(self.request), organisation=_org_or_none(self.request)
        )
        messages.success(self.request, _("Your password was changed."))
        return response


# --- two-factor authentication ---------------------------------------------------------


def _org_or_none(request: HttpRequest) -> Any:
    membership = access.membership_of(request)
    return membership.organisation if membership else None


@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    replacing = twofactor.has_confirmed_device(user)
    if replacing and not user.is_verified():  # type: ignore[attr-defined]
        # Replacing an authenticator needs the old one (or a backup code) first.
        return redirect(f"{reverse('accounts:two_factor_verify')}?next={request.path}")
    device = twofactor.pending_totp_device(user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            codes = actions.confirm_two_factor(
                user, device, by=Actor.from_request(request), organisation=_org_or_none(request)
            )
            otp_login(request, device)
            request.session[SESSION_NEW_CODES] = codes
            messages.success(request, _("Two-factor authentication is on."))
            return redirect("accounts:backup_codes")
        form.add_error(
            "code", _("That code is not right. Check the time on your phone and try again.")
        )
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "qr_svg": twofactor.qr_svg(device),
            "secret": twofactor.secret_base32(device),
            "replacing": replacing,
        },
    )


@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    next_url = _safe_next(request, reverse("home"))
    if user.is_verified():  # type: ignore[attr-defined]
        return redirect(next_url)
    if not twofactor.has_confirmed_device(user):
        return redirect("accounts:two_factor_setup")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = twofactor.verify_code(user, form.cleaned_data["code"])
        if device is not None:
            otp_login(request, device)
            if device.persistent_id.startswith("otp_static"):
                left = twofactor.remaining_backup_codes(user)
                messages.warning(
                    request,
                    _("You used a backup code; %(left)d are left.") % {"left": left},
                )
            return redirect(next_url)
        form.add_error("code", _("That code is not right or was already used."))
    return render(request, "accounts/two_factor_verify.html", {"form": form, "next": next_url})


@login_required
def backup_codes(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not twofactor.has_confirmed_device(user):
        return redirect("accounts:two_factor_setup")
    codes = request.session.pop(SESSION_NEW_CODES, None)
    if request.method == "POST":
        codes = actions.regenerate_backup_codes(
            user, by=Actor.from_request(request), organisation=_org_or_none(request)
        )
    return render(
        request,
        "accounts/backup_codes.html",
        {"codes": codes, "remaining": twofactor.remaining_backup_codes(user)},
    )


@login_required
def security(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    org = _org_or_none(request)
    return render(
        request,
        "accounts/security.html",
        {
            "has_2fa": twofactor.has_confirmed_device(user),
            "remaining": twofactor.remaining_backup_codes(user),
            "telegram_bot": telegram_alert_bot(org) if org is not None else "",
            "telegram_link": _pending_telegram_link(request, user),
        },
    )


# --- Telegram alerts -------------------------------------------------------------------

SESSION_TELEGRAM_LINK = "humas_telegram_link"


def _pending_telegram_link(request: HttpRequest, user: User) -> dict[str, Any] | None:
    """The deep link made by "Link Telegram", while its code can still be used."""
    pending = request.session.get(SESSION_TELEGRAM_LINK)
    if not isinstance(pending, dict) or user.telegram_chat_id is not None:
        return None
    try:
        expires = datetime.fromisoformat(str(pending.get("expires", "")))
    except ValueError:
        expires = timezone.now()
    if expires <= timezone.now():
        request.session.pop(SESSION_TELEGRAM_LINK, None)
        return None
    return {"url": pending.get("url", ""), "bot": pending.get("bot", ""), "expires": expires}


@login_required
@require_POST
def telegram_link(request: HttpRequest) -> HttpResponse:
    """Make a one-time code and show the alert bot's deep link that carries it."""
    user: User = request.user  # type: ignore[assignment]
    org = access.organisation_for(request)
    bot = telegram_alert_bot(org)
    if not bot:
        messages.error(
            request,
            _(
                "%(org)s has not chosen a Telegram bot for alerts yet. Ask an administrator "
                "to choose one on a Telegram channel's page."
            )
            % {"org": org.name},
        )
        return redirect("accounts:security")
    code = actions.start_telegram_link(user, org)
    request.session[SESSION_TELEGRAM_LINK] = {
        "url": f"https://t.me/{bot}?start={code}",
        "bot": bot,
        "expires": TelegramLinkCode.default_expiry().isoformat(),
    }
    return redirect("accounts:security")


@login_required
@require_POST
def telegram_unlink(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    request.session.pop(SESSION_TELEGRAM_LINK, None)
    if actions.unlink_telegram(
        user, by=Actor.from_request(request), organisation=_org_or_none(request)
    ):
        messages.success(request, _("Your Telegram is no longer linked; alerts stop going there."))
    return redirect("accounts:security")


# --- home and organisation -----------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = access.membership_of(request)
    context: dict[str, Any] = {"memberships": access.switchable_memberships(request)}
    if membership is not None:
        org = membership.organisation
        context["local_now"] = timezone.now().astimezone(ZoneInfo(org.time_zone))
        context["unit_count"] = org.units.count()
        context["member_count"] = org.memberships.filter(is_active=True).count()
    return render(request, "accounts/home.html", context)


@login_required
@require_POST
def switch_organisation(request: HttpRequest) -> HttpResponse:
    wanted = request.POST.get("organisation", "")
    chosen = (
        access.switchable_memberships(request).filter(organisation_id=int(wanted)).first()
        if wanted.isdigit()
        else None
    )
    if chosen is None:
        raise PermissionDenied("not a member")
    request.session[SESSION_ORG_KEY] = chosen.organisation_id
    return redirect("home")


@login_required
def organisation_settings(request: HttpRequest) -> HttpResponse:
    org = access.organisation_for(request, "org.manage")
    form = OrganisationSettingsForm(request.POST or None, instance=org)
    if request.method == "POST" and form.is_valid():
        fresh = type(org).objects.get(pk=org.pk)  # the form has already changed `org` in memory
        actions.update_organisation_settings(
            fresh, by=Actor.from_request(request), **{f: form.cleaned_data[f] for f in form.fields}
        )
        messages.success(request, _("Settings saved."))
        return redirect("accounts:organisation_settings")
    return render(request, "accounts/organisation_settings.html", {"form": form})


# --- units ---------------------------------------------------------------------------


@login_required
def unit_list(request: HttpRequest) -> HttpResponse:
    access.require(request, "units.view")
    units = access.units_for(request).order_by("name")
    return render(request, "accounts/unit_list.html", {"units": units})


def _unit_form(request: HttpRequest, unit: Any = None) -> HttpResponse:
    org = access.organisation_for(request, "units.manage")
    form = UnitForm(request.POST or None, instance=unit)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        by = Actor.from_request(request)
        try:
            if unit is None:
                actions.create_unit(
                    org,
                    name=data["name"],
                    code=data["code"],
                    description=data["description"],
                    by=by,
                )
            else:
                fresh = type(unit).objects.get(pk=unit.pk)
                actions.update_unit(
                    fresh,
                    name=data["name"],
                    code=data["code"],
                    description=data["description"],
                    by=by,
                )
        except actions.ActionError as exc:
            _action_error(request, exc)
        else:
            messages.success(request, _("Unit saved."))
            return redirect("accounts:unit_list")
    return render(request, "accounts/unit_form.html", {"form": form, "unit": unit})


@login_required
def unit_create(request: HttpRequest) -> HttpResponse:
    return _unit_form(request)


@login_required
def unit_edit(request: HttpRequest, unit_id: int) -> HttpResponse:
    return _unit_form(request, access.get_unit_for(request, unit_id, write=True))


@login_required
@require_POST
def unit_delete(request: HttpRequest, unit_id: int) -> HttpResponse:
    unit = access.get_unit_for(request, unit_id, write=True)
    try:
        actions.delete_unit(unit, by=Actor.from_request(request))
    except actions.ActionError as exc:
        _action_error(request, exc)
    else:
        messages.success(request, _("Unit removed."))
    return redirect("accounts:unit_list")


# --- members and invitations -----------------------------------------------------------


@login_required
def member_list(request: HttpRequest) -> HttpResponse:
    members = list(access.members_for(request).order_by("-is_active", "user__email"))
    with_2fa = set(
        User.objects.filter(
            pk__in=[m.user_id for m in members], totpdevice__confirmed=True
        ).values_list("pk", flat=True)
    )
    for member in members:
        member.has_2fa = member.user_id in with_2fa  # type: ignore[attr-defined]
    invitations = access.invitations_for(request).pending()
    return render(
        request, "accounts/member_list.html", {"members": members, "invitations": invitations}
    )


@login_required
def member_invite(request: HttpRequest) -> HttpResponse:
    org = access.organisation_for(request, "members.manage")
    form = InviteForm(request.POST or None, organisation=org)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.invite_member(
                org,
                email=data["email"],
                role=data["role"],
                unit=data["unit"],
                by=Actor.from_request(request),
            )
        except actions.ActionError as exc:
            _action_error(request, exc)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": data["email"]})
            return redirect("accounts:member_list")
    return render(request, "accounts/member_invite.html", {"form": form})


@login_required
def member_edit(request: HttpRequest, membership_id: int) -> HttpResponse:
    member = access.get_member_for(request, membership_id, write=True)
    initial = {
        "role": member.role,
        "unit": member.unit,
        "is_active": member.is_active,
        "on_duty": member.on_duty,
    }
    form = MemberForm(request.POST or None, initial=initial, organisation=member.organisation)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.change_member(
                member,
                role=data["role"],
                unit=data["unit"],
                is_active=data["is_active"],
                on_duty=data["on_duty"],
                by=Actor.from_request(request),
            )
        except actions.ActionError as exc:
            _action_error(request, exc)
        else:
            messages.success(request, _("Member updated."))
            return redirect("accounts:member_list")
    return render(
        request,
        "accounts/member_edit.html",
        {"form": form, "member": member, "has_2fa": twofactor.has_confirmed_device(member.user)},
    )


@login_required
@require_POST
def member_reset_2fa(request: HttpRequest, membership_id: int) -> HttpResponse:
    member = access.get_member_for(request, membership_id, write=True)
    actions.reset_member_two_factor(member, by=Actor.from_request(request))
    messages.success(
        request,
        _("Two-factor authentication was reset for %(email)s.") % {"email": member.user.email},
    )
    return redirect("accounts:member_edit", membership_id=member.pk)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = access.get_invitation_for(request, invitation_id)
    try:
        actions.revoke_invitation(invitation, by=Actor.from_request(request))
    except actions.ActionError as exc:
        _action_error(request, exc)
    else:
        messages.success(request, _("Invitation cancelled."))
    return redirect("accounts:member_list")


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = Invitation.find_by_token(token)
    if invitation is None or not invitation.is_pending:
        return render(request, "accounts/invitation_invalid.html", status=410)
    user = request.user if request.user.is_authenticated else None
    existing = User.objects.filter(email__iexact=invitation.email).first()
    context: dict[str, Any] = {"invitation": invitation}
    if user is None and existing is not None:
        login_url = f"{reverse('accounts:login')}?next={request.path}"
        return render(
            request, "accounts/invitation_sign_in.html", {**context, "login_url": login_url}
        )
    if user is not None and user.email.lower() != invitation.email.lower():  # type: ignore[union-attr]
        return render(request, "accounts/invitation_wrong_user.html", context, status=403)
    form = JoinForm(request.POST or None, email=invitation.email) if user is None else None
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            membership = actions.accept_invitation(
                invitation,
                ip=client_ip(request),
                user=user,  # type: ignore[arg-type]
                full_name=form.cleaned_data["full_name"] if form else "",
                password=form.cleaned_data["password1"] if form else "",
            )
        except actions.ActionError as exc:
            _action_error(request, exc)
            return redirect("accounts:login")
        if user is None:
            login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        request.session[SESSION_ORG_KEY] = membership.organisation_id
        messages.success(request, _("Welcome to %(org)s.") % {"org": membership.organisation.name})
        return redirect("home")
    return render(request, "accounts/invitation_accept.html", {**context, "form": form})


# --- audit log -------------------------------------------------------------------------


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    entries = access.audit_entries_for(request)
    org = access.organisation_for(request)
    form = AuditFilterForm(request.GET or None)
    if form.is_valid():
        data = form.cleaned_data
        tz = ZoneInfo(org.time_zone)
        if data["actor"]:
            entries = entries.filter(actor_label__icontains=data["actor"])
        if data["action"]:
            entries = entries.filter(action__icontains=data["action"])
        if data["ip"]:
            entries = entries.filter(ip=data["ip"].strip())
        if data["since"]:
            entries = entries.filter(created_at__gte=datetime.combine(data["since"], time.min, tz))
        if data["until"]:
            entries = entries.filter(created_at__lte=datetime.combine(data["until"], time.max, tz))
    page = Paginator(entries.order_by("-seq"), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "tz": org.time_zone}
    template = "accounts/_audit_rows.html" if request.htmx else "accounts/audit_log.html"  # type: ignore[attr-defined]
    return render(request, template, context)


# --- notifications -------------------------------------------------------------------


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    """The caller's notifications in their current organisation; opening the page reads them."""
    mine = access.notifications_for(request)
    page = Paginator(mine.order_by("-created_at"), 30).get_page(request.GET.get("page"))
    response = render(request, "accounts/notifications.html", {"page": page})
    mine.filter(read_at__isnull=True).update(read_at=timezone.now())
    return response


# --- error pages -------------------------------------------------------------------------


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)
