"""The return form (T1) as a printable PDF, prefilled with what we know.

In the language of the request (the labels through gettext, the form's
English labels beside them for the Token Return Department), with the
return address and numbers of the client's region (T2), the packing advice
(T3) and, for a return for replacement, the technical-support line (T4).

A TrueType font with the glyphs of Chinese and Japanese is embedded
(settings.PDF_FONTS): the Tokyo address, a reason typed in Japanese and the
labels in any of the portal's languages render in every reader.
"""

from __future__ import annotations

import io
import unicodedata
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from help import regions
from help.pdf import font_for

from .models import DeviceReturn

# Characters a name in the Latin alphabet may hold besides its letters.
_NAME_PUNCTUATION = set(" -'’.,")


def is_latin(text: str) -> bool:
    """T1: a name written in the Latin alphabet (accents allowed)."""
    text = (text or "").strip()
    if not text:
        return False
    for char in text:
        if char.isalpha():
            if not unicodedata.name(char, "").startswith("LATIN "):
                return False
        elif char not in _NAME_PUNCTUATION:
            return False
    return True


def _labels() -> dict[str, str]:
    return {
        "first_name": _("First name (in the Latin alphabet)"),
        "last_name": _("Last name (in the Latin alphabet)"),
        "account": _("Account number"),
        "reason": _("Brief reason for the return"),
        "type": _("Type of device"),
        "serial": _("Serial number"),
        "replacement": _("Do you need a replacement device?"),
        "started": _("Date"),
    }


def return_form_pdf(device_return: DeviceReturn) -> bytes:
    """The form in the active language (the page's), for the client to print."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    font = font_for(language)
    client = device_return.client
    device = device_return.device
    region = regions.region_for_country(client.country)
    cjk = language in ("ja", "zh-hans")

    def style(name: str, size: float, *, leading: float | None = None, color=colors.black, space=0) -> ParagraphStyle:
        return ParagraphStyle(
            name,
            fontName=font,
            fontSize=size,
            leading=leading or size * 1.35,
            textColor=color,
            spaceAfter=space,
            wordWrap="CJK" if cjk else None,
        )

    title = style("title", 17, space=3 * mm)
    heading = style("heading", 12, space=1.5 * mm)
    body = style("body", 10, space=1.5 * mm)
    small = style("small", 7.5, color=colors.HexColor("#555555"))

    def para(text: str, st: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), st)

    labels = _labels()
    with translation.override("en"):
        english = _labels()

    def label(key: str) -> list[Paragraph]:
        cell = [para(labels[key])]
        if labels[key] != english[key]:
            cell.append(para(english[key], small))
        return cell

    zone = ZoneInfo(client.time_zone)
    started = formats.date_format(timezone.localtime(device_return.started_at, zone), "DATE_FORMAT")
    accounts = ", ".join(client.accounts.order_by("number").values_list("number", flat=True))
    first = client.first_name if is_latin(client.first_name) else ""
    last = client.last_name if is_latin(client.last_name) else ""
    rows = [
        (label("first_name"), para(first)),
        (label("last_name"), para(last)),
        (label("account"), para(accounts)),
        (label("reason"), para(device_return.reason)),
        (
            label("type"),
            [para(device.get_type_display()), para(_("Square = Platinum, blue oval = Alpine"), small)],
        ),
        (label("serial"), para(device.serial)),
        (label("replacement"), para(_("Yes") if device_return.replacement_wanted else _("No"))),
        (label("started"), para(started)),
    ]
    table = Table(rows, colWidths=[62 * mm, 108 * mm])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#888888")),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2")),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5 * mm),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5 * mm),
            ]
        )
    )

    story = [
        para(_("Security device return form"), title),
        para(_("Print this form, pack it with the device and send both to the address below."), body),
        Spacer(1, 2 * mm),
        table,
        Spacer(1, 6 * mm),
        para(_("Send it to"), heading),
        para("\n".join(region.return_address), body),
    ]
    for phone in region.phones:
        number = f"{phone.number} ({phone.note})" if phone.note else phone.number
        story.append(para(_("Telephone: %(number)s") % {"number": number}))
    story += [
        Spacer(1, 4 * mm),
        para(_("Packing and shipping"), heading),
        para(
            _(
                "You are responsible for the device until it reaches us: pack it in a padded envelope and send it "
                "with a tracked service (for example UPS, FedEx, DHL or a tracked postal service). A device lost "
                "on its way to us is charged."
            )
        ),
        para(
            _("Once it arrives, its receipt shows in Account Management within %(days)d days.")
            % {"days": settings.SLS["RETURN_RECEIPT_DAYS"]}
        ),
    ]
    if device_return.replacement_wanted:
        story += [
            Spacer(1, 4 * mm),
            para(_("Returning it for a replacement"), heading),
            para(
                _(
                    "Call technical support at %(phone)s, options 2, then 6 (then 3), to tell us the device no "
                    "longer works: they give you a temporary passcode to log in until the new device arrives."
                )
                % {"phone": regions.TECHNICAL_SUPPORT_PHONE}
            ),
        ]

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=_("Security device return form"),
        author=_("Account Management"),
        subject=device.serial,
        pageCompression=1,
    )
    document.build(story)
    return buffer.getvalue()
