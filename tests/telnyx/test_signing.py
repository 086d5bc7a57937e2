"""Webhook signatures: each way a signature can be wrong has its own error."""

from __future__ import annotations

import base64
import json
import time

import pytest

from console.telnyx import signing

BODY = json.dumps({"data": {"event_type": "call.answered", "id": "e1", "payload": {}}}).encode()


@pytest.fixture(scope="module")
def key():
    return signing.generate_signing_key()


@pytest.fixture
def public_key(key):
    return signing.public_key_b64(key)


def test_good_signature_passes_and_returns_timestamp(key, public_key):
    headers = signing.sign(BODY, key, timestamp=1_767_225_600)
    assert signing.verify(BODY, headers, public_key, now=1_767_225_610) == 1_767_225_600


def test_header_names_are_case_insensitive(key, public_key):
    headers = {name.upper(): value for name, value in signing.sign(BODY, key).items()}
    signing.verify(BODY, headers, public_key)


def test_public_key_is_44_characters_and_signature_88(key):
    assert len(signing.public_key_b64(key)) == 44
    assert len(signing.sign(BODY, key)[signing.SIGNATURE_HEADER]) == 88


def _tamper_body(headers, public_key, key):
    return BODY.replace(b"answered", b"hangup"), headers, public_key


def _wrong_key(headers, public_key, key):
    return BODY, headers, signing.public_key_b64(signing.generate_signing_key())


def _drop(name):
    def mutate(headers, public_key, key):
        return BODY, {k: v for k, v in headers.items() if k != name}, public_key

    return mutate


def _set(name, value):
    def mutate(headers, public_key, key):
        return BODY, {**headers, name: value}, public_key

    return mutate


def _restamp(offset):
    def mutate(headers, public_key, key):
        return BODY, signing.sign(BODY, key, timestamp=int(time.time()) + offset), public_key

    return mutate


def _short_key(headers, public_key, key):
    return BODY, headers, base64.b64encode(b"k" * 31).decode()


def _short_signature(headers, public_key, key):
    return BODY, {**headers, signing.SIGNATURE_HEADER: base64.b64encode(b"s" * 63).decode()}, public_key


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (_tamper_body, signing.SignatureMismatchError),
        (_wrong_key, signing.SignatureMismatchError),
        (_drop(signing.TIMESTAMP_HEADER), signing.MissingHeaderError),
        (_drop(signing.SIGNATURE_HEADER), signing.MissingHeaderError),
        (_set(signing.TIMESTAMP_HEADER, "12.5"), signing.MalformedTimestampError),
        (_set(signing.TIMESTAMP_HEADER, "soon"), signing.MalformedTimestampError),
        (_restamp(-301), signing.StaleTimestampError),
        (_restamp(+301), signing.FutureTimestampError),
        (_short_key, signing.InvalidPublicKeyError),
        (_short_signature, signing.MalformedSignatureError),
        (_set(signing.SIGNATURE_HEADER, "not base64!"), signing.MalformedSignatureError),
    ],
    ids=[
        "tampered-body",
        "wrong-key",
        "missing-timestamp",
        "missing-signature",
        "fractional-timestamp",
        "word-timestamp",
        "stale",
        "future",
        "short-key",
        "short-signature",
        "garbage-signature",
    ],
)
def test_each_failure_has_its_own_error(key, public_key, mutate, error):
    body, headers, verify_key = mutate(signing.sign(BODY, key), public_key, key)
    with pytest.raises(error) as caught:
        signing.verify(body, headers, verify_key)
    assert isinstance(caught.value, signing.SignatureError)
    assert caught.value.reason


def test_tolerance_boundary_is_inclusive(key, public_key):
    headers = signing.sign(BODY, key, timestamp=1000)
    signing.verify(BODY, headers, public_key, now=1300)
    with pytest.raises(signing.StaleTimestampError):
        signing.verify(BODY, headers, public_key, now=1301)


def test_seed_round_trips_to_the_same_public_key(key):
    again = signing.load_signing_key(signing.signing_key_seed(key))
    assert signing.public_key_b64(again) == signing.public_key_b64(key)


def test_official_sdk_accepts_our_signature(key, public_key):
    """Two independent implementations agree: the Telnyx SDK verifies what sign() produced."""
    import telnyx
    import telnyx.lib  # attaches the Ed25519 unwrap
    from telnyx.lib.webhook_verification import WebhookVerificationError

    client = telnyx.Telnyx(api_key="test-key", public_key=public_key, base_url="http://127.0.0.1:9/v2")
    body = json.dumps(
        {
            "data": {
                "record_type": "event",
                "event_type": "call.answered",
                "id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",
                "occurred_at": "2026-11-24T12:00:00.000000Z",
                "payload": {"call_control_id": "v3:abc", "connection_id": "1", "state": "answered"},
            }
        }
    ).encode()
    headers = signing.sign(body, key)
    event = client.webhooks.unwrap(body.decode(), headers=headers, key=public_key)
    assert event is not None
    tampered = body.replace(b"answered", b"answerex")
    with pytest.raises(WebhookVerificationError):  # refused as a bad signature, not failing some other way
        client.webhooks.unwrap(tampered.decode(), headers=headers, key=public_key)


def _stamped(key, stamp: str) -> dict:
    """Headers signing BODY under a timestamp header of exactly `stamp`, so only the stamp is wrong."""
    signature = key.sign(stamp.encode("utf-8") + b"|" + BODY).signature
    return {signing.TIMESTAMP_HEADER: stamp, signing.SIGNATURE_HEADER: base64.b64encode(signature).decode()}


@pytest.mark.parametrize("stamp", ["--1", "-1767225600", "+1767225600", "9" * 5000, "-" + "9" * 5000,
                                   "1" * 13, "0" * 30 + "1767225600", "1767225600\x00", "1_767_225_600",
                                   "\u0661\u0667\u0666\u0667", "\u00b9\u00b2", ""],
                         ids=["doubled-minus", "minus", "plus", "5000-digits", "5000-digits-minus", "13-digits",
                              "zero-padded", "nul", "underscores", "arabic-indic", "superscript", "empty"])
def test_a_timestamp_that_is_not_a_short_run_of_plain_digits_is_malformed(key, public_key, stamp):
    with pytest.raises(signing.MalformedTimestampError):
        signing.verify(BODY, _stamped(key, stamp), public_key, now=1_767_225_600)


def test_twelve_plain_digits_are_read_as_a_time_and_judged_by_the_tolerance(key, public_key):
    with pytest.raises(signing.FutureTimestampError):
        signing.verify(BODY, _stamped(key, "9" * signing.MAX_TIMESTAMP_DIGITS), public_key, now=1_767_225_600)
    stamp = "00" + "1767225600"  # leading zeros are still whole seconds, and were what was signed
    assert signing.verify(BODY, _stamped(key, stamp), public_key, now=1_767_225_600) == 1_767_225_600
