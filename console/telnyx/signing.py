"""Telnyx webhook signatures: Ed25519 over ``timestamp|raw body``.

The checks run in the order the official SDKs use: both headers present, a timestamp of plain
ASCII digits (no sign, at most MAX_TIMESTAMP_DIGITS of them) inside the tolerance (either
direction), a key that decodes to 32 bytes, a signature that decodes to 64 bytes, then the
Ed25519 verification itself. Each failure has its own exception so the webhook endpoint can say
exactly what was wrong.
"""

from __future__ import annotations

import base64
import binascii
import functools
import time
from collections.abc import Mapping

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

TIMESTAMP_HEADER = "telnyx-timestamp"
SIGNATURE_HEADER = "telnyx-signature-ed25519"
DEFAULT_TOLERANCE = 300
# Unix seconds need 10 digits until the year 2286; anything much longer is not a time.
MAX_TIMESTAMP_DIGITS = 12


class SignatureError(ValueError):
    """A webhook whose signature cannot be trusted."""

    reason = "invalid signature"


class MissingHeaderError(SignatureError):
    """A signature header is absent."""

    reason = "missing signature header"


class MalformedTimestampError(SignatureError):
    """The timestamp header is not a short run of plain ASCII digits (whole seconds, no sign)."""

    reason = "timestamp is not whole seconds in plain digits"


class StaleTimestampError(SignatureError):
    """The timestamp is older than the tolerance allows."""

    reason = "timestamp too old"


class FutureTimestampError(SignatureError):
    """The timestamp lies further in the future than the tolerance allows."""

    reason = "timestamp in the future"


class InvalidPublicKeyError(SignatureError):
    """The configured public key is not base64 of 32 bytes."""

    reason = "public key is not a 32-byte Ed25519 key"


class MalformedSignatureError(SignatureError):
    """The signature header is not base64 of 64 bytes."""

    reason = "signature is not 64 bytes of base64"


class SignatureMismatchError(SignatureError):
    """The signature does not match the body and timestamp under the key."""

    reason = "signature does not match"


def _decode_b64(value: str | bytes, length: int, error: type[SignatureError]) -> bytes:
    """Decode strict base64 and insist on an exact byte length."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise error(f"{error.reason}: not valid base64") from exc
    if len(raw) != length:
        raise error(f"{error.reason}: decoded to {len(raw)} bytes")
    return raw


def _header(headers: Mapping[str, str], name: str) -> str:
    """Look a header up case-insensitively, as the SDKs do."""
    value = headers.get(name)  # a request's headers answer case-insensitively without listing them all
    if value is not None:
        return value
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    raise MissingHeaderError(f"missing header {name}")


@functools.lru_cache(maxsize=8)
def load_verify_key(public_key: str | bytes) -> VerifyKey:
    """Turn a base64 public key into a VerifyKey, or raise InvalidPublicKeyError (kept: it is the same for every webhook)."""
    return VerifyKey(_decode_b64(public_key, 32, InvalidPublicKeyError))


def verify(
    body: bytes,
    headers: Mapping[str, str],
    public_key: str | bytes | VerifyKey,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Verify a webhook's signature and return its timestamp; raise a SignatureError subclass."""
    timestamp_text = _header(headers, TIMESTAMP_HEADER)
    signature_text = _header(headers, SIGNATURE_HEADER)
    stripped = timestamp_text.strip()
    if not (stripped.isascii() and stripped.isdigit() and len(stripped) <= MAX_TIMESTAMP_DIGITS):
        raise MalformedTimestampError(
            f"timestamp {timestamp_text[:40]!r} is not a whole number of seconds of at most"
            f" {MAX_TIMESTAMP_DIGITS} plain digits")
    timestamp = int(stripped)
    current = time.time() if now is None else now
    if current - timestamp > tolerance:
        raise StaleTimestampError(f"timestamp is {int(current - timestamp)} s old (limit {tolerance} s)")
    if timestamp - current > tolerance:
        raise FutureTimestampError(
            f"timestamp is {int(timestamp - current)} s in the future (limit {tolerance} s)"
        )
    key = public_key if isinstance(public_key, VerifyKey) else load_verify_key(public_key)
    signature = _decode_b64(signature_text.strip(), 64, MalformedSignatureError)
    try:
        key.verify(timestamp_text.encode("utf-8") + b"|" + body, signature)
    except BadSignatureError as exc:
        raise SignatureMismatchError("signature does not match the body and timestamp") from exc
    return timestamp


def generate_signing_key() -> SigningKey:
    """Make a fresh Ed25519 key pair, as Telnyx does once per account."""
    return SigningKey.generate()


def load_signing_key(seed_b64: str | bytes) -> SigningKey:
    """Load a signing key from a base64 32-byte seed (the simulator's --signing-key)."""
    raw = _decode_b64(seed_b64, 32, InvalidPublicKeyError)
    return SigningKey(raw)


def signing_key_seed(key: SigningKey) -> str:
    """Base64 of a signing key's 32-byte seed, for handing the same key to another process."""
    return base64.b64encode(bytes(key)).decode("ascii")


def public_key_b64(key: SigningKey) -> str:
    """The base64 public key a console sets as TELNYX_PUBLIC_KEY (44 characters)."""
    return base64.b64encode(bytes(key.verify_key)).decode("ascii")


def sign(body: bytes, key: SigningKey, *, timestamp: int | None = None) -> dict[str, str]:
    """Sign a raw body and return the two Telnyx headers to send with it."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = key.sign(stamp.encode("utf-8") + b"|" + body).signature
    return {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
    }
