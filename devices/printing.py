"""The printable Security Code Card, as a PDF for mailing (reportlab)."""

from __future__ import annotations

import io

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

from help.pdf import font_for

from . import codecard
from .models import SecurityDevice

COLUMNS = 8


def code_card_pdf(device: SecurityDevice) -> bytes:
    """The card in the client's language, whoever prints it."""
    with translation.override(device.client.language or settings.LANGUAGE_CODE):
        return _code_card_pdf(device)


def _code_card_pdf(device: SecurityDevice) -> bytes:
    client = device.client
    # The words in the client's language, in a font with their glyphs; the
    # codes stay in Courier, whose characters no one can confuse.
    font = font_for(translation.get_language() or settings.LANGUAGE_CODE)
    codes = codecard.all_codes(device.seed)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=1)
    pdf.setTitle(_("Security Code Card %(serial)s") % {"serial": device.serial})
    width, height = A4
    left, top = 20 * mm, height - 20 * mm

    # Mailing block: the address of record.
    pdf.setFont(font, 10)
    lines = [f"{client.first_name} {client.last_name}", *client.address.splitlines(), client.get_country_display()]
    for index, line in enumerate(lines):
        pdf.drawString(left, top - index * 5 * mm, line)

    y = top - (len(lines) + 2) * 5 * mm
    pdf.setFont(font, 14)
    pdf.drawString(left, y, _("Security Code Card"))
    pdf.setFont(font, 10)
    pdf.drawString(left, y - 6 * mm, _("Serial number: %(serial)s") % {"serial": device.serial})
    # Long sentences (Spanish, Japanese) wrap within the page's margins.
    notes = [
        _("At login you are shown two numbers: type the code printed under each, without spaces."),
        _("Keep this card private. Never tell these codes to anyone, including us."),
    ]
    line_y = y - 11 * mm
    for note in notes:
        for line in simpleSplit(note, font, 10, width - 2 * left):
            pdf.drawString(left, line_y, line)
            line_y -= 5 * mm
    y = line_y + 21 * mm  # the grid starts 3 mm below the last line

    rows = -(-settings.SLS["CODE_CARD_SIZE"] // COLUMNS)
    cell_w, cell_h = (width - 2 * left) / COLUMNS, 7.2 * mm
    grid_top = y - 24 * mm
    for index, code in enumerate(codes):
        row, col = divmod(index, COLUMNS)
        x = left + col * cell_w
        cy = grid_top - row * cell_h
        pdf.setFont(font, 7)
        pdf.drawString(x, cy, f"{index + 1}")
        pdf.setFont("Courier-Bold", 11)
        pdf.drawString(x + 8 * mm, cy, code)
    pdf.rect(left - 2 * mm, grid_top - (rows - 1) * cell_h - 3 * mm, width - 2 * left + 4 * mm, rows * cell_h + 2 * mm)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
