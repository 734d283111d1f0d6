"""The embedded fonts of every PDF the portal makes (the printed and the
online code cards, the return form, the statements).

A TrueType font with the glyphs of Chinese and Japanese is embedded
(settings.PDF_FONTS), so a PDF in any of the portal's five languages, or
with the Tokyo return address, renders in every reader. reportlab cannot
load the CFF-based Noto CJK fonts; Debian's fonts-wqy-zenhei and
fonts-ipafont-gothic are TrueType.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont


@cache
def _register(name: str, path: str, index: int) -> str:
    pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
    return name


def font_for(language: str) -> str:
    """The embedded font for a language: IPA P Gothic for Japanese, WenQuanYi
    Zen Hei for every other (it has Latin, Chinese and Japanese kana); the
    other one when the preferred file is missing."""
    fonts = settings.PDF_FONTS
    preferred = [fonts["ja"], fonts["default"]] if language == "ja" else [fonts["default"], fonts["ja"]]
    for name, path, index in preferred:
        if Path(path).is_file():
            return _register(name, path, index)
    raise ImproperlyConfigured(
        "No CJK TrueType font for the PDFs: install fonts-wqy-zenhei and fonts-ipafont-gothic (Debian), "
        "or point PDF_FONT_DEFAULT / PDF_FONT_JA at a .ttf or .ttc file."
    )
