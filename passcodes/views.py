"""The online security code card's pages (C1-C4): parse, call one function
in passcodes/cards.py, render."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods
from django_otp import login as otp_login

from accounts import access, standing
from accounts.access import scope_required

from . import cards, printing
from .models import OnlineCard

# C2: the card being activated and the two numbers asked of it.
ACTIVATION = "sls_card_activation"

# Every logged-in session reaches these views; cards.printer() says who may use them (C1).
logged_in = scope_required(*access.ALL_SCOPES)


def _refused(request: HttpRequest, refusal: cards.Refusal) -> HttpResponse:
    return access.refusal(request, rule=refusal.rule, message=refusal.message, next_step=refusal.next_step)


@never_cache
@require_http_methods(["GET", "POST"])
@logged_in
def online_card_view(request: HttpRequest) -> HttpResponse:
    """C1: make the card (once), then print or save it, then activate it."""
    now = timezone.now()
    who = cards.printer(request, now)
    if isinstance(who, cards.Refusal):
        return _refused(request, who)
    if request.method == "POST":
        cards.make_card(who, now=now, request=request)
        return redirect("settings-security-sls-online-card")
    context = {
        "card": who.card,
        "active_card": who.active_card,
        "applicant": who.passcode is None,
        "standing": standing.standing(request, now),
    }
    return render(request, "passcodes/online_card.html", context)


def _download(request: HttpRequest, kind: str) -> HttpResponse:
    now = timezone.now()
    who = cards.printer(request, now)
    if isinstance(who, cards.Refusal):
        return _refused(request, who)
    card = cards.take_for_download(who, kind, now=now, request=request)
    if isinstance(card, cards.Refusal):
        return _refused(request, card)
    if kind == cards.PDF:
        response = HttpResponse(printing.card_pdf(card), content_type="application/pdf")
    else:
        response = HttpResponse(printing.card_png(card), content_type="image/png")
    response["Content-Disposition"] = f'attachment; filename="online-security-card-{card.user.username}.{kind}"'
    return response


@never_cache
@require_GET
@logged_in
def online_card_pdf_view(request: HttpRequest) -> HttpResponse:
    """C1: the card to print (principle 4: its username's session, before activation)."""
    return _download(request, cards.PDF)


@never_cache
@require_GET
@logged_in
def online_card_png_view(request: HttpRequest) -> HttpResponse:
    """C1: the card to save as an image."""
    return _download(request, cards.PNG)


class CardCodesForm(forms.Form):
    """C2: the code under each number asked, one field each (the card's own
    step-2 fields, labels tied to them), and the card the page was for."""

    card = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)

    def __init__(self, data=None, *, card: OnlineCard):
        super().__init__(data, initial={"card": card.pk})
        self.card = card
        self.fields.update(card.step_fields())

    def clean(self):
        data = super().clean()
        longest = cards.longest_code()
        for name in self.card.step_fields():
            if len(data.get(name) or "") > longest:
                length = settings.SLS["CODE_CARD_CODE_LENGTH"]
                self.add_error(name, _("A code of this card has %(length)d characters.") % {"length": length})
        return data

    def response(self) -> str:
        return self.card.response_from(self.cleaned_data)


def _ask(request: HttpRequest, card: OnlineCard) -> OnlineCard:
    card.challenge = cards.activation_challenge(card)
    request.session[ACTIVATION] = {"card": card.pk, "challenge": card.challenge}
    return card


def _activation_page(request, card: OnlineCard, *, form=None, error: str = "", hint: str = "", status: int = 200):
    context = {
        "card": card,
        "form": form or CardCodesForm(card=card),
        "instructions": card.step_instructions(),
        "error": error,
        "hint": hint,
    }
    return render(request, "passcodes/online_card_activate.html", context, status=status)


def _refusal_words(refused: cards.ActivationRefused) -> str:
    if refused.locked_until is not None:
        return (
            refused.message
            + " "
            + _(
                "It unlocks at %(when)s, 24 hours after the last failed attempt. To unlock it sooner, call your "
                "regional Customer Service Center."
            )
            % {"when": standing.moment(refused.locked_until)}
        )
    if refused.throttled_until is not None:
        return (
            refused.message
            + " "
            + _("Too many wrong codes in a row: wait until %(when)s and try again.")
            % {"when": date_format(timezone.localtime(refused.throttled_until), "H:i:s")}
        )
    return refused.message


@never_cache
@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
@logged_in
def online_card_activate_view(request: HttpRequest) -> HttpResponse:
    """C2: two numbers are asked; the codes printed under them, without
    spaces, activate the card, which ends the temporary passcode (C3). The
    session then rides on the card (A4), on a new session key."""
    now = timezone.now()
    who = cards.printer(request, now)
    if isinstance(who, cards.Refusal):
        return _refused(request, who)
    card = who.card
    if card is None:
        messages.info(request, _("Make your online security card first, then print or save it."))
        return redirect("settings-security-sls-online-card")
    if request.method == "GET":
        return _activation_page(request, _ask(request, card))

    asked = request.session.get(ACTIVATION) or {}
    if asked.get("card") != card.pk or not isinstance(asked.get("challenge"), dict):
        error = _("This page was open too long. Here are two new numbers to answer.")
        return _activation_page(request, _ask(request, card), error=error, status=400)
    card.challenge = asked["challenge"]
    form = CardCodesForm(request.POST, card=card)
    valid = form.is_valid()
    if "card" in form.errors or (valid and form.cleaned_data["card"] != card.pk):
        # Another card's id (someone else's, or one replaced since): nothing checked.
        error = _("This page was for a card that is no longer yours to activate. Here is your current card.")
        return _activation_page(request, _ask(request, card), error=error, status=400)
    if not valid:
        return _activation_page(request, card, form=form, error=_("Type the code under each number."), status=400)
    try:
        cards.activate(request.user, card.pk, asked["challenge"], form.response(), now=now, request=request)
    except cards.ActivationRefused as refused:
        if refused.already_active:
            return _already_active(request)
        status = 403 if refused.locked_until is not None else 400
        return _activation_page(
            request, _ask(request, card), error=_refusal_words(refused), hint=refused.hint, status=status
        )
    request.session.pop(ACTIVATION, None)
    # A4: the session rides on the card from now on, on a new key (SECURITY.md 1).
    otp_login(request, card)
    request.session.cycle_key()
    messages.success(request, _("Your online security card is active. Your temporary passcode no longer works."))
    return redirect("settings-security-sls-online-card-options")


def _already_active(request: HttpRequest) -> HttpResponse:
    """A double submission whose twin activated the card: that request moved
    this session to a new key, so this response leaves the cookie alone."""
    if not request.session.exists(request.session.session_key):
        del request.session
    return redirect("settings-security-sls-online-card-options")


# C4: the replacement page (devices/urls.py names it `replacement`).
REPLACEMENT_PAGES = ("replacement", "settings-security-sls")
_NOT_ON_CARD = gettext_lazy("These choices are for a login with your online security card. Activate your card first.")


def _first_url(names: tuple[str, ...]) -> str:
    for name in names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return reverse("settings-security-sls")


@never_cache
@require_GET
@logged_in
def online_card_options_view(request: HttpRequest) -> HttpResponse:
    """C4: after activation, the four next steps, each a working page."""
    now = timezone.now()
    card = cards.riding_card(request)
    if card is None:
        narrowed = access.SCOPE_REFUSALS.get(getattr(request, "sls_scope", None))
        if narrowed is not None:  # A3, A8: the window's own limit, whatever page
            rule, message, next_step = narrowed
            return access.refusal(request, rule=rule, message=message, next_step=next_step)
        next_step = ("settings-security-sls-online-card", str(_("Your online security card")))
        return access.refusal(request, rule="C4", message=str(_NOT_ON_CARD), next_step=next_step)
    options = [
        (
            reverse("settings-security-sls-activate"),
            _("Reactivate my current device"),
            _("You found your device again: confirm its serial number and type its code."),
        ),
        (
            _first_url(REPLACEMENT_PAGES),
            _("Request a new Secure Login Device"),
            _("We send a new device to your address of record; it activates itself after delivery."),
        ),
        (
            reverse("settings-security-sls-mobile"),
            _("Set up the mobile authenticator"),
            _("Use the app on your phone instead, from today."),
        ),
        (reverse("dashboard"), _("Keep using the online card for now"), _("You can come back to these choices later.")),
    ]
    context = {"card": card, "options": options, "standing": standing.standing(request, now)}
    return render(request, "passcodes/online_card_options.html", context)
