"""The five customer-service regions (T2, H2): return address and phone numbers.

The data is the seed's, held in one module so that help pages, refusals,
return forms and e-mails show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

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
    "US": (gettext_noop("United States"), US_CANADA),
    "CA": (gettext_noop("Canada"), US_CANADA),
    "GB": (gettext_noop("United Kingdom"), EUROPE),
    "IE": (gettext_noop("Ireland"), EUROPE),
    "IT": (gettext_noop("Italy"), EUROPE),
    "FR": (gettext_noop("France"), EUROPE),
    "DE": (gettext_noop("Germany"), EUROPE),
    "ES": (gettext_noop("Spain"), EUROPE),
    "PT": (gettext_noop("Portugal"), EUROPE),
    "NL": (gettext_noop("Netherlands"), EUROPE),
    "BE": (gettext_noop("Belgium"), EUROPE),
    "LU": (gettext_noop("Luxembourg"), EUROPE),
    "CH": (gettext_noop("Switzerland"), EUROPE),
    "AT": (gettext_noop("Austria"), EUROPE),
    "SE": (gettext_noop("Sweden"), EUROPE),
    "NO": (gettext_noop("Norway"), EUROPE),
    "DK": (gettext_noop("Denmark"), EUROPE),
    "FI": (gettext_noop("Finland"), EUROPE),
    "PL": (gettext_noop("Poland"), EUROPE),
    "CZ": (gettext_noop("Czechia"), EUROPE),
    "HU": (gettext_noop("Hungary"), EUROPE),
    "GR": (gettext_noop("Greece"), EUROPE),
    "HK": (gettext_noop("Hong Kong"), ASIA),
    "CN": (gettext_noop("China"), ASIA),
    "TW": (gettext_noop("Taiwan"), ASIA),
    "SG": (gettext_noop("Singapore"), ASIA),
    "KR": (gettext_noop("South Korea"), ASIA),
    "IN": (gettext_noop("India"), ASIA),
    "TH": (gettext_noop("Thailand"), ASIA),
    "MY": (gettext_noop("Malaysia"), ASIA),
    "ID": (gettext_noop("Indonesia"), ASIA),
    "PH": (gettext_noop("Philippines"), ASIA),
    "VN": (gettext_noop("Vietnam"), ASIA),
    "AU": (gettext_noop("Australia"), AUSTRALIA),
    "NZ": (gettext_noop("New Zealand"), AUSTRALIA),
    "JP": (gettext_noop("Japan"), JAPAN),
}

# (ours) The time zone in which a client of each country reads times on our
# pages (UTC stays on hover). Countries spanning several zones get the zone
# of their main financial centre until clients can choose their own.
COUNTRY_TIME_ZONES: dict[str, str] = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "IT": "Europe/Rome",
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "NL": "Europe/Amsterdam",
    "BE": "Europe/Brussels",
    "LU": "Europe/Luxembourg",
    "CH": "Europe/Zurich",
    "AT": "Europe/Vienna",
    "SE": "Europe/Stockholm",
    "NO": "Europe/Oslo",
    "DK": "Europe/Copenhagen",
    "FI": "Europe/Helsinki",
    "PL": "Europe/Warsaw",
    "CZ": "Europe/Prague",
    "HU": "Europe/Budapest",
    "GR": "Europe/Athens",
    "HK": "Asia/Hong_Kong",
    "CN": "Asia/Shanghai",
    "TW": "Asia/Taipei",
    "SG": "Asia/Singapore",
    "KR": "Asia/Seoul",
    "IN": "Asia/Kolkata",
    "TH": "Asia/Bangkok",
    "MY": "Asia/Kuala_Lumpur",
    "ID": "Asia/Jakarta",
    "PH": "Asia/Manila",
    "VN": "Asia/Ho_Chi_Minh",
    "AU": "Australia/Sydney",
    "NZ": "Pacific/Auckland",
    "JP": "Asia/Tokyo",
}

# (ours) The language a client of each country is written to in, until they
# choose one (e-mails, the printed card); English where we have no translation.
COUNTRY_LANGUAGES: dict[str, str] = {
    "IT": "it",
    "SM": "it",
    "ES": "es",
    "MX": "es",
    "AR": "es",
    "CL": "es",
    "CO": "es",
    "PE": "es",
    "CN": "zh-hans",
    "SG": "zh-hans",
    "JP": "ja",
}


def time_zone_for_country(country_code: str) -> str:
    return COUNTRY_TIME_ZONES.get((country_code or "").upper(), "UTC")


def language_for_country(country_code: str) -> str:
    return COUNTRY_LANGUAGES.get((country_code or "").upper(), "en")


# Names are marked with gettext_noop above and translated when shown; the
# order is that of the English names (translations are not ready at import).
COUNTRY_CHOICES = [(code, _(name)) for code, (name, _region) in sorted(COUNTRIES.items(), key=lambda item: item[1][0])]


def region_for_country(country_code: str) -> Region:
    """The region serving a country of residence (T2)."""
    try:
        return REGIONS[COUNTRIES[country_code.upper()][1]]
    except KeyError:
        raise ValueError(f"unknown country code {country_code!r}") from None


def all_regions() -> list[Region]:
    return list(REGIONS.values())
