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

from accounts import access
from accounts.models import User
from audit import trail
from help import refusals, regions

from . import flows
from .forms import FactorForm, LoginForm, chosen_factor

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


class WebSession:
    """The web's opener of a login (login.flows.Opener): the session.

    Runs inside the step's transaction, so the rotated session commits
    with the answer that opened it."""

    def __init__(self, request: HttpRequest, next_url: str | None = None):
        self.request = request
        self.next_url = next_url

    def _fresh_key(self) -> None:
        # SECURITY.md 1: a key that came with the request is never the key
        # of the login (fixation). Any logged-in session is ended first.
        if self.request.user.is_authenticated:
            auth_logout(self.request)
        self.request.session.cycle_key()
        self.request.session[NEXT] = self.next_url

    def second_factor_needed(self, pending, token: str) -> HttpResponse:
        self._fresh_key()
        self.request.session[PENDING] = token
        # Any authenticated session was flushed above: what moves is a visit's.
        _save_session(self.request, new_if_gone=True)
        return redirect("login-code")

    def logged_in(self, user, factor) -> HttpResponse:
        session = self.request.session
        if factor is None:
            self._fresh_key()  # step 1 completed the login: its key rotates here
        next_url = session.pop(NEXT, None)
        session.pop(PENDING, None)
        # Django's login rotates the session key (SECURITY.md 1); the
        # session's absolute clock starts with it (login/apps.py).
        auth_login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        if factor is not None:
            otp_login(self.request, factor)
        _save_session(self.request, new_if_gone=factor is None)
        # A narrowed window lands where it can act (A3: the online card;
        # A8: a closed account's statements).
        landing = access.landing_url(getattr(user, "login_scope", None))
        return redirect(landing or _safe_next(self.request, next_url) or settings.LOGIN_REDIRECT_URL)

    def already_logged_in(self) -> HttpResponse:
        # A double-clicked answer whose twin completed the login: that
        # request rotated the session, so this request's copy is stale.
        # Writing it back (or a cookie for it) would log the browser out.
        _leave_cookie_alone(self.request)
        return redirect(settings.LOGIN_REDIRECT_URL)


def _leave_cookie_alone(request: HttpRequest) -> None:
    """The session of this request is not the browser's any more (another
    request moved it to a new key): the response neither saves it nor sets
    or deletes the cookie (SessionMiddleware skips a request without one)."""
    del request.session


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    scope = getattr(request, "sls_scope", None)
    if request.user.is_authenticated and request.method == "GET" and scope:
        return redirect(access.landing_url(scope) or settings.LOGIN_REDIRECT_URL)
    form = LoginForm(request.POST or None)
    refusal = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
            try:
                return flows.password_step(
                    form.cleaned_data["username"],
                    form.cleaned_data["password"],
                    opener=WebSession(request, next_url),
                    ip=trail.client_ip(request),
                    channel="web",
                    now=timezone.now(),
                    request=request,
                )
            except refusals.LoginRefusal as exc:
                refusal, status = exc, exc.status
        else:
            status = 400
    # A bound form keeps what was typed; its password field never re-renders.
    next_url = request.POST.get("next") or request.GET.get("next", "")
    return render(request, "accounts/login.html", {"form": form, "refusal": refusal, "next": next_url}, status=status)


@sensitive_post_parameters()
@never_cache
@require_http_methods(["GET", "POST"])
def login_code_view(request: HttpRequest) -> HttpResponse:
    token = request.session.get(PENDING)
    now = timezone.now()
    pending = flows.load_pending(token, now)
    if pending is None:
        if request.session.is_empty():
            # A cookie whose session is gone (or none at all): maybe the
            # twin of a double click that logged in; its cookie stays.
            _leave_cookie_alone(request)
        else:
            request.session.pop(PENDING, None)
        return render(request, "accounts/login_expired.html", {"refusal": refusals.login_token_invalid()}, status=401)

    chosen = chosen_factor(request.POST) if request.method == "POST" else None
    offers = flows.offers(pending)
    forms = [FactorForm(request.POST if offer.index == chosen else None, offer=offer) for offer in offers]
    refusal = None
    status = 200
    answered = next((form for form in forms if form.is_bound), None)
    if answered is not None:
        if answered.is_valid():
            try:
                return flows.code_step(
                    pending,
                    chosen,
                    answered.response(),
                    opener=WebSession(request),
                    ip=trail.client_ip(request),
                    channel="web",
                    now=now,
                    request=request,
                )
            except refusals.LoginRefusal as exc:
                refusal, status = exc, exc.status
            if refusal.ends_login:
                if not request.session.exists(request.session.session_key):
                    # Another request moved or ended this session meanwhile
                    # (the twin of a double click logged in, or a logout in
                    # another tab): the browser's cookie is that request's.
                    _leave_cookie_alone(request)
                    return redirect(settings.LOGIN_REDIRECT_URL)
                request.session.pop(PENDING, None)
                return render(
                    request, "accounts/login.html", {"form": LoginForm(), "refusal": refusal}, status=refusal.status
                )
            # New challenges after every attempt (L2): the page asks anew.
            pending = flows.load_pending(token, now)
            forms = [FactorForm(offer=offer) for offer in flows.offers(pending)] if pending else forms
        else:
            # Refused before any check (an empty or over-long code): say why.
            status = 400
    elif request.method == "POST":
        status = 400
    return render(request, "accounts/login_code.html", {"forms": forms, "refusal": refusal}, status=status)


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
