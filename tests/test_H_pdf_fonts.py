"""Every PDF embeds a font with the glyphs of the client's language: the
printed Security Code Card in Japanese reads back as Japanese, not boxes."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from accounts.models import Client
from devices import codecard, printing
from devices.models import SecurityDevice
from help.pdf import font_for


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.parametrize(("language", "title"), [("en", "Security Code Card"), ("ja", "セキュリティコードカード")])
def test_H_printed_card_renders_the_clients_language(language, title):
    person = Client(
        first_name="Hiro", last_name="Sato", address="東京都中央区日本橋茅場町3-2-10", country="JP", language=language
    )
    device = SecurityDevice(client=person, type="code_card", serial="SC00000001")
    device.set_seed(codecard.new_seed())
    text = _text(printing.code_card_pdf(device))
    assert title in text and "日本橋茅場町" in text
    assert "■" not in text
    assert codecard.code_at(device.seed, 224) in text


def test_H_the_font_for_japanese_and_for_the_rest():
    assert font_for("ja") != "Helvetica" and font_for("zh-hans") != "Helvetica"
