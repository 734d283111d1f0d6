"""A8: an activity statement and a tax form as PDFs (reportlab).

Every text goes through gettext, in the language of the request; numbers
and dates are formatted for that language, times in the client's time
zone. The fonts are chosen by `fonts()` alone.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from help.pdf import font_for

from .models import Account
from .statements import Activity, Entry


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str


def fonts(language: str | None = None) -> Fonts:
    """The fonts of the statements' PDFs for `language`: the embedded
    TrueType font with the glyphs of every portal language (help/pdf.py),
    for the text and the headings alike."""
    name = font_for(language or settings.LANGUAGE_CODE)
    return Fonts(name, name)


def _money(value) -> str:
    return formats.number_format(value, 2, use_l10n=True, force_grouping=True)


def _date(value: datetime, tz) -> str:
    return formats.date_format(value.astimezone(tz).date(), "DATE_FORMAT")


def month_name(period) -> str:
    """'March 2026' in the active language."""
    return formats.date_format(period.start.date(), "YEAR_MONTH_FORMAT")


class _Styles:
    def __init__(self, chosen: Fonts) -> None:
        self.fonts = chosen
        self.title = ParagraphStyle("title", fontName=chosen.bold, fontSize=16, leading=20, spaceAfter=4 * mm)
        self.heading = ParagraphStyle("heading", fontName=chosen.bold, fontSize=11, leading=14, spaceBefore=4 * mm)
        self.body = ParagraphStyle("body", fontName=chosen.regular, fontSize=9.5, leading=12.5)
        self.small = ParagraphStyle("small", fontName=chosen.regular, fontSize=8, leading=10, textColor=colors.grey)
        self.cell = ParagraphStyle("cell", fontName=chosen.regular, fontSize=8.5, leading=10.5)

    def para(self, text: str, style=None) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style or self.body)

    def table(self, rows: list[list[str]], widths: list[float], *, numeric_from: int) -> Table:
        table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, 0), self.fonts.bold, 8.5),
                    ("FONT", (0, 1), (-1, -1), self.fonts.regular, 8.5),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
                    ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.lightgrey),
                    ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return table


def _holder_block(styles: _Styles, account: Account, now: datetime, tz) -> list:
    client = account.client
    lines = [f"{client.first_name} {client.last_name}", *client.address.splitlines(), client.get_country_display()]
    flow = [styles.para("\n".join(lines)), Spacer(1, 4 * mm)]
    facts = [_("Account number: %(number)s") % {"number": account.number}]
    if account.closed_at is not None and account.closed_at <= now:
        facts.append(_("Account closed on %(date)s.") % {"date": _date(account.closed_at, tz)})
    flow += [styles.para(fact) for fact in facts]
    return flow


def _footer(styles: _Styles, now: datetime, tz) -> list:
    return [
        Spacer(1, 8 * mm),
        styles.para(
            _("Amounts in US dollars. Made on %(date)s from the account's records.") % {"date": _date(now, tz)},
            styles.small,
        ),
    ]


def _describe(entry: Entry) -> str:
    if entry.deposit is not None:
        return _("Deposit (%(method)s)") % {"method": entry.deposit.get_method_display()}
    return _("Withdrawal to %(destination)s") % {"destination": entry.withdrawal.destination}


def _build(title: str, story: list) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=title,
        author=_("Account Management"),
        lang=translation.get_language() or "en",
    )
    document.build(story)
    return buffer.getvalue()


def statement_pdf(activity: Activity, now: datetime) -> bytes:
    """A monthly activity statement: the balances and every record of the month."""
    account, period = activity.account, activity.period
    tz = period.start.tzinfo
    styles = _Styles(fonts(translation.get_language()))
    title = _("Activity statement, %(month)s") % {"month": month_name(period)}
    last_day = period.end - timedelta(days=1)
    story = [
        styles.para(title, styles.title),
        *_holder_block(styles, account, now, tz),
        styles.para(_("Period: %(start)s to %(end)s") % {"start": _date(period.start, tz), "end": _date(last_day, tz)}),
        styles.para(_("Opening balance: %(amount)s USD") % {"amount": _money(activity.opening)}),
        styles.para(_("Closing balance: %(amount)s USD") % {"amount": _money(activity.closing)}),
        styles.para(_("Activity"), styles.heading),
        Spacer(1, 2 * mm),
    ]
    if activity.entries:
        rows = [[_("Date"), _("Description"), _("Deposits (USD)"), _("Withdrawals (USD)"), _("Balance (USD)")]]
        for entry in activity.entries:
            rows.append(
                [
                    _date(entry.at, tz),
                    styles.para(_describe(entry), styles.cell),
                    _money(entry.amount) if entry.deposit else "",
                    _money(entry.amount) if entry.withdrawal else "",
                    _money(entry.balance),
                ]
            )
        rows.append(["", _("Total"), _money(activity.deposits), _money(activity.withdrawals), ""])
        story.append(styles.table(rows, [28 * mm, 62 * mm, 26 * mm, 30 * mm, 28 * mm], numeric_from=2))
    else:
        story.append(styles.para(_("No deposits or withdrawals in this period.")))
    story += _footer(styles, now, tz)
    return _build(title, story)


def tax_form_pdf(activity: Activity, now: datetime) -> bytes:
    """A yearly tax form: the year's totals and balances, month by month."""
    account, period = activity.account, activity.period
    tz = period.start.tzinfo
    styles = _Styles(fonts(translation.get_language()))
    title = _("Annual tax statement %(year)d") % {"year": period.year}
    client = account.client
    story = [
        styles.para(title, styles.title),
        *_holder_block(styles, account, now, tz),
        styles.para(_("Country of residence: %(country)s") % {"country": client.get_country_display()}),
        styles.para(_("Summary of the year"), styles.heading),
        Spacer(1, 2 * mm),
        styles.table(
            [
                [_("Item"), _("Amount (USD)")],
                [_("Balance on 1 January"), _money(activity.opening)],
                [_("Deposits"), _money(activity.deposits)],
                [_("Withdrawals"), _money(activity.withdrawals)],
                [_("Balance on 31 December"), _money(activity.closing)],
            ],
            [110 * mm, 40 * mm],
            numeric_from=1,
        ),
        styles.para(_("Month by month"), styles.heading),
        Spacer(1, 2 * mm),
    ]
    rows = [[_("Month"), _("Deposits (USD)"), _("Withdrawals (USD)"), _("Balance at the end of the month (USD)")]]
    for month, deposits, withdrawals, balance in activity.months():
        rows.append([month_name(month), _money(deposits), _money(withdrawals), _money(balance)])
    story.append(styles.table(rows, [40 * mm, 34 * mm, 34 * mm, 66 * mm], numeric_from=1))
    story += [
        Spacer(1, 4 * mm),
        styles.para(
            _(
                "Keep this statement with your tax records. It summarises the account's deposits and withdrawals; "
                "ask your tax adviser how they are taxed where you live."
            )
        ),
    ]
    story += _footer(styles, now, tz)
    return _build(title, story)
