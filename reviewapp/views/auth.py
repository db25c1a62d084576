"""The login page, with the login throttle (auditcore/services/login_throttle.py) in front of it."""

import math

from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.utils import timezone

from auditcore.services.login_throttle import (
    ThrottleState,
    login_failure_record,
    login_success_record,
    login_throttle_state,
)
from reviewapp.forms import LoginForm


def _client_ip(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client wants it to be.
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _lock_message(state: ThrottleState) -> str:
    minutes = max(1, math.ceil((state.locked_until - timezone.now()).total_seconds() / 60))
    duration = f"{minutes} minute{'s' if minutes != 1 else ''}"
    if state.scope == "address":
        return (
            "Too many failed logins from your address. "
            f"Logins from it are locked for {duration}; try again later."
        )
    return (
        "Too many failed logins for this username from your address. "
        f"Logins for it are locked for {duration}; "
        "try again later or ask an admin to reset your password."
    )


class ThrottledLoginView(auth_views.LoginView):
    redirect_authenticated_user = True
    authentication_form = LoginForm

    def post(self, request, *args, **kwargs) -> HttpResponse:
        username = request.POST.get("username", "")
        state = login_throttle_state(username=username, ip=_client_ip(request))
        if state.locked:
            # Refused without checking the password: a lock must not leak whether it was right.
            form = LoginForm(request, initial={"username": username[:150]})
            context = self.get_context_data(form=form, throttle_message=_lock_message(state))
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form) -> HttpResponse:
        login_success_record(username=form.get_user().get_username(), ip=_client_ip(self.request))
        return super().form_valid(form)

    def form_invalid(self, form) -> HttpResponse:
        username = self.request.POST.get("username", "")
        context = self.get_context_data(form=form)
        status = 200
        if username:
            state = login_failure_record(username=username, ip=_client_ip(self.request))
            if state.locked:
                context["throttle_message"] = _lock_message(state)
                status = 429
        return self.render_to_response(context, status=status)
