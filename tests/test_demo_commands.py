"""The README's demo helpers: codes for the two-box step 2, clean refusals."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import card_codes_for


def test_demo_card_prints_one_code_per_box(settings, alice):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("demo_card", "alice", "12", "187", stdout=out)
    first, second = card_codes_for(alice, [12, 187])
    assert out.getvalue().splitlines() == [
        f"Number  12: type {first} in its box",
        f"Number 187: type {second} in its box",
    ]


@pytest.mark.parametrize(
    ("args", "message"), [(["nobody"], "no active security device"), (["alice", "999"], "1 to 224")]
)
def test_demo_card_refuses_with_a_message(settings, alice, args, message):
    settings.DEBUG = True
    with pytest.raises(CommandError, match=message):
        call_command("demo_card", *args, stdout=io.StringIO())


def test_demo_commands_refuse_without_debug(alice):
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("demo_card", "alice", stdout=io.StringIO())
