from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from accounts.models import User
from audit import trail
from help import refusals, regions
from login.compiled import deferred_writes

from . import flows as flow
from .forms import CodeCardForm, LoginForm
from .middleware import mark_login

PENDING = "sls_pending_login"
NEXT = "sls_next"


def _safe_next(request: HttpRequest, candidate: str | None) -> str | None:
    """SECURITY.md 19: only paths on this site."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


def _save_session(request: HttpRequest, *, new_if_gone: bool = False) -> None:
    """Save the session inside the login step's transaction (one commit).

    A session ended meanwhile (logout in another tab) is not revived: the
    step is rolled back and the answer is Django's 400, as when the
    middleware's own save finds the session gone. new_if_gone=True (step 1,
    whose session holds nothing from before but an anonymous visit): a
    concurrent request moved or ended that visit's row (a double-clicked
    form), and this verified password step gets a session of its own."""
    try:
        request.session.save()
    except UpdateError:
        if new_if_gone:
            request.session.save_as_new()
            return
        # What the step put in memory (the login) must not be saved by the
        # middleware under a new key after the rollback: nothing is kept.
        request.session.flush()
        raise SessionInterrupted(
            "The request's session was deleted before the request completed. "
            "The user may have logged out in a concurrent request, for example."
        ) from None


def _finish(request: HttpRequest, user, binding=None) -> HttpResponse:
    next_url = request.session.get(NEXT)
    # Django's login rotates the session key (SECURITY.md 1).
    auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if binding is not None:
        otp_login(request, binding)
    mark_login(request, timezone.now())
    return redirect(_safe_next(request, next_url) or settings.LOGIN_REDIRECT_URL)


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET" and getattr(request, "sls_scope", None):
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = LoginForm(request.POST or None)
    refusal = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))

            def open_session(step: flow.StepOne) -> HttpResponse:
                # Runs in the transaction that records the passed password:
                # the session commits with it.
                if request.user.is_authenticated:
                    auth_logout(request)
                # SECURITY.md 1: a key that came with the request is never the
                # key of the login (fixation).
                request.session.cycle_key()
                request.session[NEXT] = next_url
                if step.pending is None:
                    response = _finish(request, step.user)
                else:
                    request.session[PENDING] = step.token
                    response = redirect("login-code")
                # Any authenticated session was flushed above: what moves is a visit's.
                _save_session(request, new_if_gone=True)
                return response

            try:
                return flow.check_password_step(
                    form.cleaned_data["username"],
                    form.cleaned_data["password"],
                    ip=trail.client_ip(request),
                    channel="web",
                    now=timezone.now(),
                    request=request,
                    then=open_session,
                )
            except refusals.LoginRefusal as exc:
                refusal, status = exc, exc.status
        else:
            status = 400
    # A bound form keeps what was typed; its password field never re-renders.
    next_url = request.POST.get("next") or request.GET.get("next", "")
    return render(request, "accounts/login.html", {"form": form, "refusal": refusal, "next": next_url}, status=status)


@sensitive_post_parameters("code_1", "code_2")
@never_cache
@require_http_methods(["GET", "POST"])
def login_code_view(request: HttpRequest) -> HttpResponse:
    token = request.session.get(PENDING)
    now = timezone.now()
    pending = flow.load_pending(token, now)
    challenge = pending.challenge if pending else None
    if challenge is None:
        request.session.pop(PENDING, None)
        return render(request, "accounts/login_expired.html", {"refusal": refusals.login_token_invalid()}, status=401)

    form = CodeCardForm(request.POST or None, positions=challenge["positions"])
    refusal = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            # No hash at this step: the answer and the login it opens are one
            # transaction (one commit), a refusal's record included.
            with transaction.atomic(), deferred_writes():
                try:
                    user, binding = flow.check_code_step(
                        pending, form.response(), ip=trail.client_ip(request), channel="web", now=now, request=request
                    )
                except refusals.LoginRefusal as exc:
                    refusal, status = exc, exc.status
                else:
                    request.session.pop(PENDING, None)
                    response = _finish(request, user, binding)
                    # The rotated session commits with the login it records.
                    _save_session(request)
                    return response
            if refusal.code in ("locked_out", "login_token_invalid"):
                request.session.pop(PENDING, None)
                template = "accounts/login.html" if refusal.code == "locked_out" else "accounts/login_expired.html"
                return render(request, template, {"form": LoginForm(), "refusal": refusal}, status=refusal.status)
        else:
            status = 400
        # A new challenge after every attempt (L2): the page asks new numbers.
        challenge = flow.current_challenge(token, now)
        if status == 400:
            # A malformed answer (over-long code) is refused before any check: say so.
            return render(request, "accounts/login_code.html", {"form": form, "refusal": refusal}, status=400)
        form = CodeCardForm(positions=challenge["positions"])
    return render(request, "accounts/login_code.html", {"form": form, "refusal": refusal}, status=status)


@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    """GET asks; POST logs out (no state change on GET, SECURITY.md 16)."""
    if request.method == "POST":
        if request.user.is_authenticated:
            trail.record("logout", request=request, client=request.user.client, username=request.user.username)
        # Deletes the server-side session (SECURITY.md 2).
        auth_logout(request)
        return redirect("login")
    return render(request, "accounts/logout.html")


def forgot_view(request: HttpRequest) -> HttpResponse:
    """L5: login assistance starts with a telephone call, never in the portal alone."""
    return render(request, "accounts/forgot.html", {"regions": regions.all_regions()})


class SingleUsePasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """L5, SECURITY.md 9 and 13: the link sets one password, once.

    Django's token dies when the password changes; re-checking it under a
    row lock makes that atomic, so two submissions of one link cannot both
    succeed. A reset never logs in: the second factor still stands.
    """

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password-reset-complete")
    post_reset_login = False

    def form_valid(self, form):
        token = self.request.session.get(auth_views.INTERNAL_RESET_SESSION_TOKEN)
        with transaction.atomic():
            user = User.objects.select_for_update().get(pk=self.user.pk)
            if not self.token_generator.check_token(user, token):
                return self.render_to_response(self.get_context_data(form=form, validlink=False))
            form.user = user
            response = super().form_valid(form)
            trail.record("password.reset", request=self.request, client=user.client, username=user.username)
        return response
