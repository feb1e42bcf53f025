"""Ticket edits, API key format and scopes, tenant ids (plain Python, no I/O)."""
from datetime import datetime, timedelta, timezone

import pytest

from ticket_service.tickets.domain import Ticket
from ticket_service.accounts.domain import (ApiKey, check_tenant_id, hash_key, looks_like_key,
                                            new_key, normalize_scopes)

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
T1 = T0 + timedelta(minutes=5)
FIELDS = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
          "user_email": "ann@example.com", "priority": "high"}


def test_edit_changes_only_what_differs_and_moves_the_version_once():
    ticket = Ticket.open("a", FIELDS, T0)

    changed = ticket.edit({"title": "VPN down again", "priority": "high", "tags": ["vpn"]}, T1)

    assert changed == {"title": {"old": "VPN down", "new": "VPN down again"},
                       "tags": {"old": [], "new": ["vpn"]}}
    assert (ticket.title, ticket.priority, ticket.tags) == ("VPN down again", "high", ["vpn"])
    assert (ticket.version, ticket.updated_at) == (2, T1)


def test_an_edit_that_changes_nothing_keeps_the_version():
    ticket = Ticket.open("a", FIELDS, T0)

    assert ticket.edit({"title": "VPN down", "tags": []}, T1) == {}
    assert (ticket.version, ticket.updated_at) == (1, T0)


@pytest.mark.parametrize("field", ["status", "department", "version", "user_email", "id"])
def test_only_editable_fields_can_be_edited(field):
    ticket = Ticket.open("a", FIELDS, T0)
    with pytest.raises(ValueError):
        ticket.edit({field: "x"}, T1)
    assert ticket.version == 1


def test_edited_tags_are_a_copy():
    ticket = Ticket.open("a", FIELDS, T0)
    tags = ["a"]
    ticket.edit({"tags": tags}, T1)
    tags.append("b")
    assert ticket.tags == ["a"]


def test_keys_have_the_documented_shape_and_are_unique():
    key, prefix = new_key()
    other, _ = new_key()
    assert key.startswith(f"tts_{prefix}_") and len(prefix) == 8 and key != other
    assert looks_like_key(key)
    assert len(key) > 50


@pytest.mark.parametrize("candidate", [
    "", "tts_short_x", "abc_12345678_" + "x" * 43, "tts_ABCDEFGH_" + "x" * 43,
    "tts_12345678_" + "x" * 10, "tts_12345678_" + "x" * 43 + " ", "tts_12345678_" + "é" * 43,
])
def test_malformed_keys_are_recognized_without_a_lookup(candidate):
    assert not looks_like_key(candidate)


def test_keys_are_stored_as_sha256():
    assert hash_key("tts_12345678_abc") == hash_key("tts_12345678_abc")
    assert len(hash_key("x")) == 64 and hash_key("x") != hash_key("y")


@pytest.mark.parametrize("given,expected", [
    (["write", "read"], ("read", "write")),
    ([" Admin ", "read", "read"], ("read", "admin")),
    (["admin", "write", "read"], ("read", "write", "admin")),
])
def test_scopes_are_normalized(given, expected):
    assert normalize_scopes(given) == expected


@pytest.mark.parametrize("given", [[], [" "], ["root"], ["read", "delete"]])
def test_unknown_or_no_scopes_are_refused(given):
    with pytest.raises(ValueError):
        normalize_scopes(given)


@pytest.mark.parametrize("tenant,ok", [
    ("default", True), ("acme-2", True), ("a_b", True), ("0", True), ("a" * 63, True),
    ("a" * 64, False), ("", False), ("Acme", False), ("-acme", False), ("ac me", False),
    ("acme/x", False),
])
def test_tenant_ids(tenant, ok):
    if ok:
        assert check_tenant_id(tenant) == tenant
    else:
        with pytest.raises(ValueError):
            check_tenant_id(tenant)


def test_a_key_is_revoked_once():
    key = ApiKey("a", "12345678", "h", ("read",), "", T0)
    assert key.active and key.revoke(T1)
    assert not key.active and not key.revoke(T1 + timedelta(hours=1))
    assert key.revoked_at == T1
