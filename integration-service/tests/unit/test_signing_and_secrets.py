"""Signatures (both directions) and secrets at rest."""
import pytest

from integration_service import signing
from integration_service.crypto import SecretBox, SecretsUnavailableError, new_key


def test_a_signed_body_verifies_and_returns_its_timestamp():
    header = signing.sign("s3cret", b'{"a":1}', timestamp=1_000)
    assert signing.verify("s3cret", header, b'{"a":1}', now=1_010) == 1_000


@pytest.mark.parametrize("secret, body, now", [
    ("other", b'{"a":1}', 1_000),          # wrong secret
    ("s3cret", b'{"a":2}', 1_000),         # tampered body
    ("s3cret", b'{"a":1}', 1_000 + 301),   # replayed after the 5-minute window
    ("s3cret", b'{"a":1}', 1_000 - 301),   # from the future
])
def test_a_wrong_secret_a_tampered_body_or_an_old_timestamp_is_refused(secret, body, now):
    header = signing.sign("s3cret", b'{"a":1}', timestamp=1_000)
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, header, body, now=now)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=x,v1=abc", "t=1000"])
def test_a_malformed_header_is_refused(header):
    with pytest.raises(signing.SignatureError):
        signing.verify("s3cret", header, b"{}", now=1_000)


def test_secrets_round_trip_and_survive_key_rotation():
    old, new = new_key(), new_key()
    token = SecretBox(old).seal({"token": "abc"})
    assert b"abc" not in token
    rotated = SecretBox(f"{new},{old}")
    assert rotated.open(token) == {"token": "abc"}
    assert SecretBox(new).open(rotated.rotate(token)) == {"token": "abc"}


def test_without_a_key_secrets_are_refused_not_stored_in_clear():
    with pytest.raises(SecretsUnavailableError):
        SecretBox("").seal({"token": "abc"})
    with pytest.raises(SecretsUnavailableError):
        SecretBox(new_key()).open(SecretBox(new_key()).seal("x"))
