"""L1: usernames are letters and digits, typed in lower case; any other character
is BAD CHARACTER before any password check or record."""

from __future__ import annotations

import logging

import pytest

from audit.models import AuditEvent
from login.models import LoginGuard
from tests.conftest import (
    INVALID,
    PASSWORD,
    WRONG,
    assert_nothing_half_written,
    csrf_post,
    log_in_step_one,
)


def test_L1_bad_character_before_password_check(web, alice):
    response = csrf_post(web, "/login/", {"username": "alice!", "password": PASSWORD})
    assert response.status_code == 400
    assert b"BAD CHARACTER" in response.content
    assert b"/help/#bad-character" in response.content


def test_L1_newline_username_is_refused_before_anything_is_stored(web, db, caplog):
    """L1, ASVS 5.0 V16.4.1: BAD CHARACTER before any record or log line."""
    caplog.set_level(logging.INFO, logger="sls.audit")
    response = log_in_step_one(web, 'eve\n{"action": "login"}', WRONG)
    assert response.status_code == 400
    assert b"BAD CHARACTER" in response.content
    assert not LoginGuard.objects.exists()
    assert not AuditEvent.objects.exists()
    assert not [record for record in caplog.records if record.name == "sls.audit"]


@pytest.mark.parametrize("username", ["alicé", "алиса", "アリス", "alice\u200b"])
def test_L1_non_ascii_or_control_username_is_bad_character(web, alice, username):
    response = log_in_step_one(web, username, PASSWORD)
    assert response.status_code == 400
    assert b"BAD CHARACTER" in response.content
    assert_nothing_half_written()


def test_L1_nul_in_the_username_is_a_field_error(web, alice):
    """A NUL never reaches L1 (or PostgreSQL): the form refuses it as a field error."""
    response = log_in_step_one(web, "alice\x00", PASSWORD)
    assert response.status_code == 400
    assert b"Null characters are not allowed" in response.content
    assert_nothing_half_written()


def test_L1_ten_kilobyte_username_gets_the_L2_message(web, alice, hash_counter):
    response = log_in_step_one(web, "a" * 10_240, PASSWORD)
    assert response.status_code == 401
    assert INVALID in response.content
    assert hash_counter["verify"] == 0
    assert_nothing_half_written()


def test_L1_ten_kilobyte_username_of_symbols_is_bad_character(web, alice):
    response = log_in_step_one(web, "!" * 10_240, PASSWORD)
    assert response.status_code == 400 and b"BAD CHARACTER" in response.content
    assert_nothing_half_written()
