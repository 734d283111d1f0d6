"""The five customer-service regions (T2, H2): return address and phone numbers.

The data is the seed's, held in one module so that help pages, refusals,
return forms and e-mails show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

US_CANADA = "us_canada"
EUROPE = "europe"
ASIA = "asia"
AUSTRALIA = "australia"
JAPAN = "japan"

TECHNICAL_SUPPORT_PHONE = "1-877-442-2757"
# T4, H2: the menu options to press on the technical-support line.
TECHNICAL_SUPPORT_OPTIONS = "2, 6, 3"
SECURITY_EMAIL = "tac@interactivebrokers.com"


@dataclass(frozen=True)
class Phone:
    number: str
    note: str = ""

    @property
    def tel(self) -> str:
        """The number for a tel: link, in international form.

        The seed writes North American numbers without a country code
        ("(203) 618-4006", "1-877-442-2757"); they get +1.
        """
        digits = "".join(ch for ch in self.number if ch.isdigit())
        if self.number.strip().startswith("+"):
            return "+" + digits
        return "+" + (digits if len(digits) == 11 and digits.startswith("1") else "1" + digits)


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    return_address: tuple[str, ...]
    phones: tuple[Phone, ...]


TECHNICAL_SUPPORT_TEL = Phone(TECHNICAL_SUPPORT_PHONE).tel

_ASIA_PHONES = (
    Phone("+852-2156-7907", _("Cantonese")),
    Phone("+86 (21) 6086 8586", _("Mandarin")),
)

REGIONS: dict[str, Region] = {
    US_CANADA: Region(
        US_CANADA,
        _("US and Canada"),
        (
            "Interactive Brokers, LLC.",
            "Attn: Token Return Department",
            "2 Pickwick Plaza",
            "Greenwich, CT 06830",
        ),
        (Phone("(203) 618-4006"),),
    ),
    EUROPE: Region(
        EUROPE,
        _("Europe"),
        (
            "Interactive Brokers (U.K.) LTD.",
            "Attn: Token Return Department",
            "Gotthardstrasse 3",
            "CH-6301 Zug",
            "Switzerland",
        ),
        (Phone("+41-41-726-9500"),),
    ),
    ASIA: Region(
        ASIA,
        _("Asia (outside Japan)"),
        (
            "Interactive Brokers, LLC.",
            "Attn: Token Return Department",
            "Suite 1512, Two Pacific Place",
            "88 Queensway, Admiralty",
            "Hong Kong",
        ),
        _ASIA_PHONES,
    ),
    AUSTRALIA: Region(
        AUSTRALIA,
        _("Australia"),
        (
            "Interactive Brokers, LLC.",
            "Attn: Token Return Department",
            "Grosvenor Place, Level 42",
            "225 George Street",
            "Sydney, 2000",
        ),
        (Phone("+61 (2) 8093-7300"),),
    ),
    # T2 (ours): the seed gives Japan an address but no number; we show Asia's.
    JAPAN: Region(
        JAPAN,
        _("Japan"),
        (
            "〒103-0025 東京都中央区日本橋茅場町3-2-10 鉄鋼会館4階",
            "インタラクティブ・ブローカーズ証券 カスタマーサービス",
            "(3-2-10 Nihonbashi Kayabacho, Chuo-ku, Tokyo 103-0025, Tekko Kaikan 4F)",
        ),
        _ASIA_PHONES,
    ),
}

# ISO 3166-1 alpha-2 code -> (country name, region). Countries outside this
# list cannot be chosen as a country of residence yet.
COUNTRIES: dict[str, tuple[str, str]] = {
    "US": ("United States", US_CANADA),
    "CA": ("Canada", US_CANADA),
    "GB": ("United Kingdom", EUROPE),
    "IE": ("Ireland", EUROPE),
    "IT": ("Italy", EUROPE),
    "FR": ("France", EUROPE),
    "DE": ("Germany", EUROPE),
    "ES": ("Spain", EUROPE),
    "PT": ("Portugal", EUROPE),
    "NL": ("Netherlands", EUROPE),
    "BE": ("Belgium", EUROPE),
    "LU": ("Luxembourg", EUROPE),
    "CH": ("Switzerland", EUROPE),
    "AT": ("Austria", EUROPE),
    "SE": ("Sweden", EUROPE),
    "NO": ("Norway", EUROPE),
    "DK": ("Denmark", EUROPE),
    "FI": ("Finland", EUROPE),
    "PL": ("Poland", EUROPE),
    "CZ": ("Czechia", EUROPE),
    "HU": ("Hungary", EUROPE),
    "GR": ("Greece", EUROPE),
    "HK": ("Hong Kong", ASIA),
    "CN": ("China", ASIA),
    "TW": ("Taiwan", ASIA),
    "SG": ("Singapore", ASIA),
    "KR": ("South Korea", ASIA),
    "IN": ("India", ASIA),
    "TH": ("Thailand", ASIA),
    "MY": ("Malaysia", ASIA),
    "ID": ("Indonesia", ASIA),
    "PH": ("Philippines", ASIA),
    "VN": ("Vietnam", ASIA),
    "AU": ("Australia", AUSTRALIA),
    "NZ": ("New Zealand", AUSTRALIA),
    "JP": ("Japan", JAPAN),
}

COUNTRY_CHOICES = sorted(((code, name) for code, (name, _region) in COUNTRIES.items()), key=lambda c: c[1])


def region_for_country(country_code: str) -> Region:
    """The region serving a country of residence (T2)."""
    try:
        return REGIONS[COUNTRIES[country_code.upper()][1]]
    except KeyError:
        raise ValueError(f"unknown country code {country_code!r}") from None


def all_regions() -> list[Region]:
    return list(REGIONS.values())
