from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext, gettext_lazy
from django.views import i18n
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import access, changes, money, pdf, standing, statements
from .access import scope_required
from .forms import BankingForm, DepositForm, EmailForm, WithdrawalForm
from .models import Account, ChangeRequest, Client, Deposit, Withdrawal


@require_POST
def set_language_view(request: HttpRequest) -> HttpResponse:
    """Django's set_language, which also keeps a logged-in client's choice:
    what we send them (e-mails, the printed card) follows it."""
    response = i18n.set_language(request)
    language = request.POST.get("language")
    user = request.user
    if user.is_authenticated and user.client_id is not None and language in dict(settings.LANGUAGES):
        Client.objects.filter(pk=user.client_id).exclude(language=language).update(language=language)
    return response


@scope_required(*access.PORTAL_SCOPES)
def dashboard_view(request: HttpRequest) -> HttpResponse:
    client = request.user.client
    now = timezone.now()
    accounts = [
        {"account": account, "open": account.is_open(now), "funded": account.is_funded(now)}
        for account in client.accounts.all()
    ]
    enrolled = access.is_enrolled(request)
    return render(
        request,
        "accounts/dashboard.html",
        {
            "client": client,
            "accounts": accounts,
            "enrolled": enrolled,
            # B1, B3: the limits that apply to this client now.
            "withdrawal_limits": money.withdrawal_limits(enrolled),
            "ach_cap": None if enrolled else settings.SLS["B3_ACH_EFT_UNENROLLED_USD"],
            # What this login allows and until when (A2-A4, C5).
            **standing.describe(request),
        },
    )


# --- Money movement (B1-B3) and B2's changes --------------------------------------------

A5_MESSAGE = gettext_lazy(
    "Withdrawals, deposits and changes of banking instructions or e-mail address are not available with a "
    "temporary passcode alone. Log in with your security device, or call your regional Customer Service Center."
)
money_scope_required = scope_required(*access.MONEY_SCOPES, rule="A5", message=A5_MESSAGE)

# The largest id PostgreSQL's bigint holds; a longer number is no row's.
_MAX_ID = 2**63 - 1


def _open_accounts(client: Client, now) -> list[Account]:
    return [account for account in client.accounts.all() if account.is_open(now)]


def _posted_account_is_not_theirs(request: HttpRequest, client: Client) -> None:
    """SECURITY.md 17: an account id that is a number but not one of the
    client's is answered 404, as if it did not exist."""
    raw = request.POST.get("account", "").strip()
    if raw.isascii() and raw.isdigit() and int(raw) <= _MAX_ID and not client.accounts.filter(pk=int(raw)).exists():
        raise Http404(gettext("No such account among yours."))


def _refused(request, template: str, context: dict, refusal: money.Refusal) -> HttpResponse:
    response = render(request, template, {**context, "refusal": refusal.message}, status=403)
    response.sls_rule = refusal.rule
    return response


def _money_request_page(request: HttpRequest, *, form_class, ask, recorded: str, page: str, template: str, listing):
    """A money page (B1, B3): the client's requests and a form for a new one.

    `ask(form, enrolled, now)` records the request or returns a Refusal (it
    writes nothing then); `recorded` is the message of a request recorded;
    `listing(client, accounts, enrolled, now)` the page's own context."""
    client = request.user.client
    now = timezone.now()
    enrolled = access.is_enrolled(request)
    accounts = _open_accounts(client, now)
    form = form_class(request.POST if request.method == "POST" else None, accounts=accounts)
    status = 200
    refusal = None
    if request.method == "POST":
        _posted_account_is_not_theirs(request, client)
        if form.is_valid():
            result = ask(form, enrolled, now)
            if not isinstance(result, money.Refusal):
                messages.success(
                    request,
                    recorded % {"amount": money.usd(result.amount_usd), "account": result.account.number},
                )
                return redirect(page)
            refusal = result
        else:
            status = 400
    context = {"form": form, "enrolled": enrolled, **listing(client, accounts, enrolled, now)}
    if refusal is not None:
        return _refused(request, template, context, refusal)
    return render(request, template, context, status=status)


@money_scope_required
@require_http_methods(["GET", "POST"])
def withdrawals_view(request: HttpRequest) -> HttpResponse:
    """B1: the client's withdrawal requests and a form for a new one, within both limits."""
    return _money_request_page(
        request,
        form_class=WithdrawalForm,
        ask=lambda form, enrolled, now: money.request_withdrawal(
            request.user,
            form.cleaned_data["account"],
            form.cleaned_data["amount"],
            enrolled=enrolled,
            now=now,
            request=request,
        ),
        recorded=gettext("Your withdrawal request of %(amount)s USD from account %(account)s is recorded."),
        page="withdrawals",
        template="accounts/withdrawals.html",
        listing=lambda client, accounts, enrolled, now: {
            "rooms": [(a, money.withdrawal_room(a, enrolled=enrolled, now=now)) for a in accounts],
            "destination": money.current_instructions(client.pk),
            "withdrawals": Withdrawal.objects.filter(account__client=client).select_related("account", "destination")[
                :100
            ],
        },
    )


@money_scope_required
def withdrawal_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """One withdrawal request; another client's id is a 404 (SECURITY.md 17)."""
    withdrawal = get_object_or_404(
        Withdrawal.objects.select_related("account", "destination"), pk=pk, account__client=request.user.client
    )
    return render(request, "accounts/withdrawal_detail.html", {"withdrawal": withdrawal})


@money_scope_required
@require_http_methods(["GET", "POST"])
def deposits_view(request: HttpRequest) -> HttpResponse:
    """B3: ACH/EFT deposit requests; unenrolled accounts up to the initial cap in total."""
    return _money_request_page(
        request,
        form_class=DepositForm,
        ask=lambda form, enrolled, now: money.request_deposit(
            request.user,
            form.cleaned_data["account"],
            form.cleaned_data["amount"],
            form.cleaned_data["method"],
            enrolled=enrolled,
            now=now,
            request=request,
        ),
        recorded=gettext("Your deposit request of %(amount)s USD to account %(account)s is recorded."),
        page="deposits",
        template="accounts/deposits.html",
        listing=lambda client, accounts, enrolled, now: {
            "rooms": [(a, money.deposit_room(a, enrolled=enrolled)) for a in accounts],
            "deposits": Deposit.objects.filter(account__client=client).select_related("account")[:100],
        },
    )


def _change_view(request: HttpRequest, *, kind: str, form, template: str, context: dict) -> HttpResponse:
    """B2: enrolled clients change at once (after a fresh second factor); others ask the Security team."""
    client = request.user.client
    now = timezone.now()
    enrolled = access.is_enrolled(request)
    status = 200
    refusal = None
    if request.method == "POST":
        if form.is_valid():
            if enrolled:
                changes.change_now(request.user, kind, form.value(), now=now, request=request)
                messages.success(
                    request,
                    gettext("Your change is made. We sent a notice to your previous e-mail address."),
                )
                return redirect(request.path)
            result = changes.submit_change(request.user, kind, form.value(), now=now, request=request)
            if not isinstance(result, money.Refusal):
                messages.success(
                    request,
                    gettext(
                        "Your change request is recorded. Our Security team will review it and write to you by e-mail."
                    ),
                )
                return redirect(request.path)
            refusal = result
        else:
            status = 400
    context = {
        **context,
        "form": form,
        "enrolled": enrolled,
        "pending": changes.pending_change(client, kind),
        "history": ChangeRequest.objects.filter(client=client, kind=kind).order_by("-requested_at")[:20],
    }
    if refusal is not None:
        return _refused(request, template, context, refusal)
    return render(request, template, context, status=status)


@money_scope_required
@require_http_methods(["GET", "POST"])
@access.fresh_factor_required
def banking_view(request: HttpRequest) -> HttpResponse:
    client = request.user.client
    form = BankingForm(request.POST if request.method == "POST" else None)
    return _change_view(
        request,
        kind=ChangeRequest.Kind.BANKING,
        form=form,
        template="accounts/settings_banking.html",
        context={"current": money.current_instructions(client.pk)},
    )


@money_scope_required
@require_http_methods(["GET", "POST"])
@access.fresh_factor_required
def email_view(request: HttpRequest) -> HttpResponse:
    client = request.user.client
    form = EmailForm(request.POST if request.method == "POST" else None, current=client.email)
    return _change_view(
        request,
        kind=ChangeRequest.Kind.EMAIL,
        form=form,
        template="accounts/settings_email.html",
        context={"current": client.email},
    )


# --- Statements and tax forms (A8) -----------------------------------------------------

# Every full login, and a closed account's (A8: nothing else).
STATEMENT_SCOPES = (*access.PORTAL_SCOPES, access.STATEMENTS_ONLY)


@scope_required(*STATEMENT_SCOPES)
@require_GET
def statements_view(request: HttpRequest) -> HttpResponse:
    """A8: the monthly activity statements and yearly tax forms of the client's accounts."""
    now = timezone.now()
    accounts = statements.with_first_records(Account.objects.filter(client_id=request.user.client_id))
    rows = []
    for account in accounts.select_related("client"):
        months = statements.statement_months(account, now)
        tax_years = {period.year for period in statements.tax_years(account, now)}
        years = sorted({period.year for period in months} | tax_years, reverse=True)
        rows.append(
            {
                "account": account,
                "closed": not account.is_open(now),
                # Newest year first; in each, its tax form (once the year is
                # over, or the account closed) and its months, newest first.
                "years": [
                    {
                        "year": year,
                        "tax_form": year in tax_years,
                        "months": [(period, pdf.month_name(period)) for period in months if period.year == year],
                    }
                    for year in years
                ],
            }
        )
    return render(
        request,
        "accounts/statements.html",
        {"rows": rows, "statements_only": request.sls_scope == access.STATEMENTS_ONLY},
    )


def _own_account(request: HttpRequest, number: str) -> Account:
    """The client's own account; anyone else's number is a 404 (SECURITY.md 17)."""
    accounts = statements.with_first_records(Account.objects.select_related("client"))
    return get_object_or_404(accounts, number=number, client_id=request.user.client_id)


def _pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    add_never_cache_headers(response)  # a client's records stay out of shared caches
    return response


@scope_required(*STATEMENT_SCOPES)
@require_GET
def statement_pdf_view(request: HttpRequest, number: str, year: int, month: int) -> HttpResponse:
    """A8: one month's activity statement as a PDF."""
    now = timezone.now()
    account = _own_account(request, number)
    period = statements.find_period(account, now, year, month)
    if period is None:
        raise Http404(gettext("There is no statement for that month."))
    content = pdf.statement_pdf(statements.activity(account, period), now)
    return _pdf_response(content, f"statement-{account.number}-{year:04d}-{month:02d}.pdf")


@scope_required(*STATEMENT_SCOPES)
@require_GET
def tax_form_pdf_view(request: HttpRequest, number: str, year: int) -> HttpResponse:
    """A8: one year's tax form as a PDF."""
    now = timezone.now()
    account = _own_account(request, number)
    period = statements.find_period(account, now, year, None)
    if period is None:
        raise Http404(gettext("There is no tax form for that year."))
    content = pdf.tax_form_pdf(statements.activity(account, period), now)
    return _pdf_response(content, f"tax-form-{account.number}-{year:04d}.pdf")
