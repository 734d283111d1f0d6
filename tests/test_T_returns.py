"""T2: the country decides the region, its return address and numbers."""

from __future__ import annotations

import pytest

from help import regions


@pytest.mark.parametrize(
    ("country", "region", "address_line", "phone"),
    [
        ("US", "US and Canada", "2 Pickwick Plaza", "(203) 618-4006"),
        ("CA", "US and Canada", "Greenwich, CT 06830", "(203) 618-4006"),
        ("IT", "Europe", "CH-6301 Zug", "+41-41-726-9500"),
        ("HK", "Asia (outside Japan)", "Suite 1512, Two Pacific Place", "+852-2156-7907"),
        ("AU", "Australia", "225 George Street", "+61 (2) 8093-7300"),
        ("JP", "Japan", "〒103-0025 東京都中央区日本橋茅場町3-2-10 鉄鋼会館4階", "+852-2156-7907"),
    ],
)
def test_T2_country_maps_to_its_region_address_and_numbers(country, region, address_line, phone):
    found = regions.region_for_country(country)
    assert str(found.name) == region
    assert address_line in found.return_address
    assert phone in [p.number for p in found.phones]


def test_T2_unknown_country_is_refused():
    with pytest.raises(ValueError):
        regions.region_for_country("ZZ")
