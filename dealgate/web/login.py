"""Sign-in with attempts limited per username and address (dealgate.people.login_limits)."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpResponse

from dealgate.people.login_limits import client_address, clear_failed_logins, login_wait_seconds, record_failed_login
from dealgate.words import plural


class LimitedAttemptsMixin:
    """Refuse a throttled username+address before checking the password; count failures; clear on success."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request)
        wait = login_wait_seconds(username, address)
        if wait:
            minutes = (wait + 59) // 60
            raise ValidationError(
                f"Too many failed sign-ins for this username from your address. Try again in "
                f"{plural(minutes, 'minute')}, or ask an administrator to set a new password.", code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            record_failed_login(username, address)
            raise
        clear_failed_logins(username, address)
        return cleaned


class LimitedAuthenticationForm(LimitedAttemptsMixin, AuthenticationForm):
    pass


class LimitedAdminAuthenticationForm(LimitedAttemptsMixin, AdminAuthenticationForm):
    pass


class SignInView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True
    authentication_form = LimitedAuthenticationForm

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if any(error.code == "throttled" for error in form.non_field_errors().as_data()):
            response.status_code = 429
        return response
