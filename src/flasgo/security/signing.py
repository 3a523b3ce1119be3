"""Signing: timestamped HMAC-SHA256 tokens with key rotation, safe on hostile input.

A token is ``<payload>.<timestamp>.<signature>``: the payload in unpadded base64url, the Unix
time it was signed in decimal, and the unpadded base64url HMAC-SHA256 of
``"<payload>.<timestamp>"``. The HMAC key is ``salt + ":" + secret`` (so sessions keep the
upstream key ``"flasgo.session:" + SECRET_KEY``); a salt may not contain ``:``, which keeps the
split between salt and secret unambiguous (CVE-2026-6873 class).

Tokens are signed with the newest key only and verified with every key (CVE-2025-47278), so
a secret can be rotated by moving the old one into the fallbacks. Parsing is a handful of
length-capped, linear steps; anything a client sends either verifies or raises `BadSignature`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Sequence

from flasgo.exceptions import FlasgoError

__all__ = ["MAX_CLOCK_SKEW", "BadSignature", "SignatureExpired", "Signer"]

MAX_CLOCK_SKEW = 300
"""Seconds a timestamp may lie in the future (clock drift between workers) before it is refused."""

_SIGNATURE_LENGTH = 43  # unpadded base64url of a 32-byte SHA-256 digest
_MAX_TIMESTAMP_DIGITS = 12  # enough until the year 33658
# NOTE: one character class, no alternation: matching is linear in the input.
_is_base64url = re.compile(rb"[A-Za-z0-9_-]*").fullmatch


class BadSignature(FlasgoError):
    """A token is malformed, was not signed with one of our keys, or is from the future."""


class SignatureExpired(BadSignature):
    """A token's signature is valid but it is older than the accepted age."""


def _b64encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class Signer:
    """Sign and verify byte payloads with a timestamp.

    Args:
        secret_key: The current secret; every new token is signed with it.
        fallbacks: Older secrets still accepted when verifying (key rotation).
        salt: Separates uses of the same secret (``"flasgo.session"``, ...); non-empty,
            without ``:``.
        max_token_length: Longer tokens are refused before any work is done.

    Raises:
        ValueError: The secret, a fallback or the salt is empty, or the salt contains ``:``.
    """

    __slots__ = ("_macs", "max_token_length")

    def __init__(
        self,
        secret_key: str,
        *,
        fallbacks: Sequence[str] = (),
        salt: str,
        max_token_length: int = 16384,
    ) -> None:
        if not salt or ":" in salt:
            raise ValueError(f"salt must be a non-empty string without ':', got {salt!r}")
        if isinstance(fallbacks, str):
            raise ValueError("fallbacks must be a sequence of secrets, not a single string")
        keys = [secret_key, *fallbacks]
        if any(type(key) is not str or not key for key in keys):
            raise ValueError("secret_key and every fallback must be non-empty strings")
        # PERF: a keyed HMAC is copied per token instead of re-deriving the key schedule.
        self._macs = tuple(
            hmac.new(f"{salt}:{key}".encode(), digestmod=hashlib.sha256) for key in keys
        )
        self.max_token_length = max_token_length

    def _signature(self, mac: hmac.HMAC, message: bytes) -> bytes:
        mac = mac.copy()
        mac.update(message)
        return _b64encode(mac.digest())

    def sign(self, payload: bytes, *, timestamp: int | None = None) -> str:
        """Return a token carrying `payload`, signed now (or at `timestamp`) with the newest key.

        Args:
            payload: The bytes to carry; they are encoded, not encrypted, so anyone can read them.
            timestamp: The signing time as Unix seconds; the current time when None.

        Returns:
            ``<b64url(payload)>.<timestamp>.<signature>``, ASCII only.

        Raises:
            ValueError: `timestamp` is not a non-negative int.
        """
        if timestamp is None:
            timestamp = int(time.time())
        elif type(timestamp) is not int or timestamp < 0:
            raise ValueError(f"timestamp must be a non-negative int, got {timestamp!r}")
        message = b"%s.%d" % (_b64encode(payload), timestamp)
        return (message + b"." + self._signature(self._macs[0], message)).decode("ascii")

    def _verify(self, token: str) -> tuple[bytes, int]:
        """Check the token's shape and signature; return the encoded payload and timestamp."""
        if type(token) is not str or len(token) > self.max_token_length or not token.isascii():
            raise BadSignature("The token is not a signed token.")
        raw = token.encode("ascii")
        message, _, signature = raw.rpartition(b".")
        payload, dot, stamp = message.rpartition(b".")
        if (
            not dot
            or len(signature) != _SIGNATURE_LENGTH
            or not _is_base64url(signature)
            or not _is_base64url(payload)
            or not 0 < len(stamp) <= _MAX_TIMESTAMP_DIGITS
            or not stamp.isdigit()
        ):
            raise BadSignature("The token is not a signed token.")
        # SECURITY: compare the encoded signature strings in constant time; comparing decoded
        # bytes would accept several spellings of one signature (base64 padding bits).
        # PERF: stop at the first key that matches; which key matched is not a secret.
        for mac in self._macs:
            if hmac.compare_digest(self._signature(mac, message), signature):
                return payload, int(stamp)
        raise BadSignature("The token's signature does not match.")

    def unsign(self, token: str, *, max_age: int | None) -> bytes:
        """Verify `token` and return its payload.

        Args:
            token: A token made by `sign` (with this salt and any of our keys).
            max_age: The greatest accepted age in seconds; None accepts any age.

        Returns:
            The payload bytes.

        Raises:
            SignatureExpired: The signature is valid but older than `max_age`.
            BadSignature: Anything else: malformed, forged, signed with an unknown key, or
                dated more than `MAX_CLOCK_SKEW` seconds in the future.
        """
        payload, timestamp = self._verify(token)
        now = int(time.time())
        if timestamp > now + MAX_CLOCK_SKEW:
            raise BadSignature("The token's timestamp is in the future.")
        if max_age is not None and now - timestamp > max_age:
            raise SignatureExpired(f"The token is older than {max_age} seconds.")
        try:
            return base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4))
        except (binascii.Error, ValueError):  # pragma: no cover - only a token we signed gets here
            raise BadSignature("The token's payload is not valid base64url.") from None
