"""The online security code card as the client prints it (PDF, reportlab)
or saves it (PNG, Pillow): its 224 numbered codes, each under its number,
with the client's name and username and a title (C1, s401).

Both are drawn from the card's seed when asked (nothing is stored), in
the client's language, whoever's browser asks: only the card's own
username's session can, until the card is activated (passcodes/cards.py).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import gettext as _

from devices import codecard

from .models import OnlineCard

# 224 codes as 16 rows of 14: each cell shows its number, the code under it.
COLUMNS = 14

# Fonts for the saved image (Debian's, when installed; Pillow's own otherwise)
# and for the PDF in the languages its built-in fonts cannot write.
LATIN_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)
LATIN_BOLD_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",)
CODE_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",)
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
)
CJK_LANGUAGES = ("ja", "zh-hans")


def _first_existing(paths: tuple[str, ...]) -> str | None:
    return next((path for path in paths if os.path.exists(path)), None)


@dataclass(frozen=True)
class CardText:
    """The words around the codes, in the client's language."""

    title: str
    name: str
    username: str
    made: str
    lines: tuple[str, ...]
    keep_private: str


def _language(card: OnlineCard) -> str:
    return card.client.language or settings.LANGUAGE_CODE


def card_text(card: OnlineCard) -> CardText:
    client = card.client
    made = card.created_at.astimezone(ZoneInfo(client.time_zone))
    return CardText(
        title=_("Online Security Code Card"),
        name=_("Name: %(name)s") % {"name": f"{client.first_name} {client.last_name}"},
        username=_("Username: %(username)s") % {"username": card.user.username},
        made=_("Made on %(date)s") % {"date": formats.date_format(made, "DATE_FORMAT")},
        lines=(
            _("First activate it: Settings > Security > Secure Login System > Online security card."),
            _("At login you are shown two numbers: type the code printed under each, without spaces."),
        ),
        keep_private=_("Keep this card private. Never tell these codes to anyone, including us."),
    )


# --- PDF ------------------------------------------------------------------------


def _pdf_fonts(language: str) -> tuple[str, str]:
    """(regular, bold) font names for the PDF's words in `language`."""
    if language not in CJK_LANGUAGES:
        return "Helvetica", "Helvetica-Bold"
    from reportlab.pdfbase import pdfmetrics

    path = _first_existing(CJK_FONTS)
    if path is not None:
        from reportlab.pdfbase.ttfonts import TTFont

        name = "SLS-CJK"
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
        return name, name
    # Not embedded: most readers have it; better than boxes for sure.
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    name = "HeiseiKakuGo-W5" if language == "ja" else "STSong-Light"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(name))
    return name, name


def card_pdf(card: OnlineCard) -> bytes:
    """The card on one A4 page, to print."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    language = _language(card)
    with translation.override(language):
        text = card_text(card)
    regular, bold = _pdf_fonts(language)
    codes = codecard.all_codes(card.seed)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=1)
    pdf.setTitle(text.title)
    pdf.setAuthor(card.user.username)
    width, height = A4
    left, top = 18 * mm, height - 20 * mm

    pdf.setFont(bold, 18)
    pdf.drawString(left, top, text.title)
    pdf.setFont(regular, 11)
    pdf.drawString(left, top - 9 * mm, text.name)
    pdf.drawString(left, top - 15 * mm, text.username)
    pdf.drawRightString(width - left, top - 15 * mm, text.made)
    pdf.setFont(regular, 9.5)
    for index, line in enumerate(text.lines):
        pdf.drawString(left, top - (24 + 5.5 * index) * mm, line)

    rows = -(-len(codes) // COLUMNS)
    cell_w, cell_h = (width - 2 * left) / COLUMNS, 12 * mm
    grid_top = top - 40 * mm
    pdf.setLineWidth(0.4)
    pdf.rect(left, grid_top - rows * cell_h, width - 2 * left, rows * cell_h)
    for index, code in enumerate(codes):
        row, col = divmod(index, COLUMNS)
        x, y = left + col * cell_w, grid_top - row * cell_h
        if col:
            pdf.line(x, y, x, y - cell_h)
        if row:
            pdf.line(left, y, width - left, y)
        pdf.setFont("Helvetica", 7.5)
        pdf.drawCentredString(x + cell_w / 2, y - 4 * mm, str(index + 1))
        pdf.setFont("Courier-Bold", 13)
        pdf.drawCentredString(x + cell_w / 2, y - 9.5 * mm, code)
    pdf.setFont(bold, 10)
    pdf.drawString(left, grid_top - rows * cell_h - 8 * mm, text.keep_private)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


# --- PNG ------------------------------------------------------------------------

# The saved image: 14 cells of 96 x 76 pixels across, a margin of 48.
PNG_CELL = (96, 76)
PNG_MARGIN = 48
PNG_HEADER = 250


def _png_font(paths: tuple[str, ...], size: int):
    from PIL import ImageFont

    path = _first_existing(paths)
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)


def png_cell_box(position: int) -> tuple[int, int, int, int]:
    """Where the cell of card number `position` is in the image (left, top, right, bottom)."""
    row, col = divmod(position - 1, COLUMNS)
    x = PNG_MARGIN + col * PNG_CELL[0]
    y = PNG_MARGIN + PNG_HEADER + row * PNG_CELL[1]
    return x, y, x + PNG_CELL[0], y + PNG_CELL[1]


def card_png(card: OnlineCard) -> bytes:
    """The card as an image, to save (and print later)."""
    from PIL import Image, ImageDraw
    from PIL.PngImagePlugin import PngInfo

    language = _language(card)
    cjk = language in CJK_LANGUAGES
    if cjk and _first_existing(CJK_FONTS) is None:
        language = "en"  # no font to write it with: English rather than boxes
    with translation.override(language):
        text = card_text(card)
    words = CJK_FONTS if cjk and language != "en" else LATIN_FONTS
    words_bold = CJK_FONTS if cjk and language != "en" else LATIN_BOLD_FONTS
    codes = codecard.all_codes(card.seed)
    rows = -(-len(codes) // COLUMNS)
    width = 2 * PNG_MARGIN + COLUMNS * PNG_CELL[0]
    height = 2 * PNG_MARGIN + PNG_HEADER + rows * PNG_CELL[1] + 50
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)

    title, body, small = _png_font(words_bold, 40), _png_font(words, 22), _png_font(words, 18)
    number_font, code_font = _png_font(LATIN_FONTS, 17), _png_font(CODE_FONTS, 30)
    x, y = PNG_MARGIN, PNG_MARGIN
    draw.text((x, y), text.title, font=title, fill=0)
    draw.text((x, y + 62), text.name, font=body, fill=0)
    draw.text((x, y + 94), text.username, font=body, fill=0)
    draw.text((width - PNG_MARGIN, y + 94), text.made, font=body, fill=0, anchor="ra")
    for index, line in enumerate(text.lines):
        draw.text((x, y + 140 + 30 * index), line, font=small, fill=0)

    grid_top = PNG_MARGIN + PNG_HEADER
    draw.rectangle((PNG_MARGIN, grid_top, width - PNG_MARGIN, grid_top + rows * PNG_CELL[1]), outline=0, width=2)
    for index, code in enumerate(codes):
        left, top, right, bottom = png_cell_box(index + 1)
        draw.rectangle((left, top, right, bottom), outline=0, width=1)
        middle = (left + right) // 2
        draw.text((middle, top + 6), str(index + 1), font=number_font, fill=80, anchor="ma")
        draw.text((middle, top + 30), code, font=code_font, fill=0, anchor="ma")
    draw.text(
        (PNG_MARGIN, grid_top + rows * PNG_CELL[1] + 16), text.keep_private, font=_png_font(words_bold, 20), fill=0
    )
    info = PngInfo()
    info.add_text("Title", text.title)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, optimize=True)
    return buffer.getvalue()
