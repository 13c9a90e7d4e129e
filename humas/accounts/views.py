# Placeholder so the project boots while the real views are written.
from django.http import HttpResponse
from django.views import View

def home(request, *args, **kwargs):
    return HttpResponse('todo')

def logout_view(request, *args, **kwargs):
    return HttpResponse('todo')

def set_language(request, *args, **kwargs):
    return HttpResponse('todo')

def two_factor_setup(request, *args, **kwargs):
    return HttpResponse('todo')

def two_factor_verify(request, *args, **kwargs):
    return HttpResponse('todo')

def backup_codes(request, *args, **kwargs):
    return HttpResponse('todo')

def security(request, *args, **kwargs):
    return HttpResponse('todo')

def invitation_accept(request, *args, **kwargs):
    return HttpResponse('todo')

def organisation_settings(request, *args, **kwargs):
    return HttpResponse('todo')

def switch_organisation(request, *args, **kwargs):
    return HttpResponse('todo')

def unit_list(request, *args, **kwargs):
    return HttpResponse('todo')

def unit_create(request, *args, **kwargs):
    return HttpResponse('todo')

def unit_edit(request, *args, **kwargs):
    return HttpResponse('todo')

def unit_delete(request, *args, **kwargs):
    return HttpResponse('todo')

def member_list(request, *args, **kwargs):
    return HttpResponse('todo')

def member_invite(request, *args, **kwargs):
    return HttpResponse('todo')

def member_edit(request, *args, **kwargs):
    return HttpResponse('todo')

def member_reset_2fa(request, *args, **kwargs):
    return HttpResponse('todo')

def invitation_revoke(request, *args, **kwargs):
    return HttpResponse('todo')

def audit_log(request, *args, **kwargs):
    return HttpResponse('todo')

def forbidden(request, *args, **kwargs):
    return HttpResponse('todo')

def not_found(request, *args, **kwargs):
    return HttpResponse('todo')

class LoginView(View):
    def get(self, request, *a, **k):
        return HttpResponse('todo')

class PasswordResetView(View):
    def get(self, request, *a, **k):
        return HttpResponse('todo')

class PasswordResetDoneView(View):
    def get(self, request, *a, **k):
        return HttpResponse('todo')

class PasswordResetConfirmView(View):
    def get(self, request, *a, **k):
        return HttpResponse('todo')

class PasswordResetCompleteView(View):
    def get(self, request, *a, **k):
        return HttpResponse('todo')
