"""Tests for timestamped HMAC signing: format, tampering, rotation, expiry, hostile input."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import time
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flasgo.exceptions import FlasgoError
from flasgo.security.signing import MAX_CLOCK_SKEW, BadSignature, SignatureExpired, Signer
from tests.linear import linear_ratio

SECRET = "s" * 40
OLD_SECRET = "o" * 40
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def signer(**options: object) -> Signer:
    return Signer(SECRET, salt="flasgo.session", **options)  # type: ignore[arg-type]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- format --------------------------------------------------------------------------------


def test_token_has_the_upstream_format_and_key() -> None:
    token = signer().sign(b'{"a":1}', timestamp=1_700_000_000)
    payload, stamp, signature = token.split(".")
    assert payload == b64(b'{"a":1}')
    assert stamp == "1700000000"
    mac = hmac.new(
        ("flasgo.session:" + SECRET).encode(), f"{payload}.{stamp}".encode(), hashlib.sha256
    )
    assert signature == b64(mac.digest())
    assert len(signature) == 43
    assert "=" not in token


@given(st.binary(max_size=2000))
def test_round_trip(payload: bytes) -> None:
    s = signer()
    assert s.unsign(s.sign(payload), max_age=60) == payload


def test_errors_are_flasgo_errors() -> None:
    assert issubclass(BadSignature, FlasgoError)
    assert issubclass(SignatureExpired, BadSignature)


# -- tampering -----------------------------------------------------------------------------


@given(
    payload=st.binary(max_size=100),
    position=st.integers(min_value=0),
    replacement=st.sampled_from([*B64URL, ".", "=", "~"]),
)
def test_any_substitution_is_refused(payload: bytes, position: int, replacement: str) -> None:
    s = signer()
    token = s.sign(payload)
    position %= len(token)
    if token[position] == replacement:
        return
    tampered = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(BadSignature):
        s.unsign(tampered, max_age=None)


@given(payload=st.binary(max_size=100), start=st.integers(min_value=0), length=st.integers(1, 8))
def test_any_deletion_is_refused(payload: bytes, start: int, length: int) -> None:
    s = signer()
    token = s.sign(payload)
    start %= len(token)
    with pytest.raises(BadSignature):
        s.unsign(token[:start] + token[start + length :], max_age=None)


@given(
    payload=st.binary(max_size=100), position=st.integers(min_value=0), extra=st.text(min_size=1)
)
def test_any_insertion_is_refused(payload: bytes, position: int, extra: str) -> None:
    s = signer()
    token = s.sign(payload)
    position %= len(token) + 1
    with pytest.raises(BadSignature):
        s.unsign(token[:position] + extra + token[position:], max_age=None)


def test_the_last_signature_character_cannot_be_respelled() -> None:
    # The last base64 character of a 32-byte digest carries 2 unused bits: "A" and "B"
    # decode the same, so signatures must be compared as text.
    s = signer()
    token = s.sign(b"x")
    last = token[-1]
    index = B64URL.index(last)
    twin = B64URL[index ^ 1]
    with pytest.raises(BadSignature):
        s.unsign(token[:-1] + twin, max_age=None)


@given(st.text(max_size=300))
def test_arbitrary_text_only_raises_bad_signature(text: str) -> None:
    with contextlib.suppress(BadSignature):
        signer().unsign(text, max_age=100)


@given(
    st.from_regex(r"[A-Za-z0-9_\-.=]{0,80}\.[0-9]{0,15}\.[A-Za-z0-9_\-=]{40,46}", fullmatch=True)
)
def test_near_tokens_only_raise_bad_signature(text: str) -> None:
    with pytest.raises(BadSignature):
        signer().unsign(text, max_age=None)


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "..",
        "a.b.c",
        "a.1." + "A" * 43,
        "a.." + "A" * 43,
        "a.-1." + "A" * 43,
        "a.1e3." + "A" * 43,
        "a.１２." + "A" * 43,
        "é.1." + "A" * 43,
        "a.1." + "A" * 42 + "=",
        "a!b.1." + "A" * 43,
        "a.1234567890123." + "A" * 43,
        "\x00" * 100,
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(BadSignature):
        signer().unsign(token, max_age=None)


def test_non_string_token_is_refused() -> None:
    with pytest.raises(BadSignature):
        signer().unsign(b"a.1.b", max_age=None)  # type: ignore[arg-type]


def test_overlong_token_is_refused() -> None:
    s = signer(max_token_length=100)
    token = s.sign(b"x" * 200)
    with pytest.raises(BadSignature):
        s.unsign(token, max_age=None)
    assert signer().unsign(token, max_age=None) == b"x" * 200


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "A" * n + ".1." + "A" * 43,
        lambda n: "." * n,
        lambda n: "a." * n,
        lambda n: "9" * n,
        lambda n: "A" * n,
    ],
)
def test_unsign_is_linear(make: Callable[[int], str]) -> None:
    s = signer(max_token_length=1 << 22)

    def run(token: str) -> Callable[[], None]:
        def go() -> None:
            with contextlib.suppress(BadSignature):
                s.unsign(token, max_age=None)

        return go

    assert linear_ratio(run(make(1 << 18)), run(make(1 << 19))) <= 2.5


# -- keys ----------------------------------------------------------------------------------


def test_fallback_keys_verify_but_never_sign() -> None:
    old = Signer(OLD_SECRET, salt="flasgo.session")
    rotated = Signer(SECRET, fallbacks=[OLD_SECRET], salt="flasgo.session")
    assert rotated.unsign(old.sign(b"data"), max_age=None) == b"data"
    # CVE-2025-47278: a new token verifies with the current key alone.
    new_token = rotated.sign(b"data")
    assert signer().unsign(new_token, max_age=None) == b"data"
    with pytest.raises(BadSignature):
        old.unsign(new_token, max_age=None)


def test_removed_fallback_no_longer_verifies() -> None:
    token = Signer(OLD_SECRET, salt="flasgo.session").sign(b"data")
    with pytest.raises(BadSignature):
        signer().unsign(token, max_age=None)


def test_salts_separate_uses() -> None:
    token = Signer(SECRET, salt="flasgo.session").sign(b"data")
    with pytest.raises(BadSignature):
        Signer(SECRET, salt="flasgo.csrf").unsign(token, max_age=None)


def test_salt_and_key_cannot_be_shifted() -> None:
    # CVE-2026-6873: (key "a", salt "bc") must not equal (key "ab", salt "c").
    token = Signer("cd", salt="ab").sign(b"data")
    with pytest.raises(BadSignature):
        Signer("d", salt="abc").unsign(token, max_age=None)
    with pytest.raises(ValueError, match="without ':'"):
        Signer("d", salt="ab:c")


@pytest.mark.parametrize(
    "options",
    [
        {"secret_key": "", "salt": "x"},
        {"secret_key": SECRET, "salt": ""},
        {"secret_key": SECRET, "salt": "x", "fallbacks": ["ok", ""]},
        {"secret_key": SECRET, "salt": "x", "fallbacks": OLD_SECRET},
        {"secret_key": b"bytes", "salt": "x"},
    ],
)
def test_invalid_keys_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Signer(**options)  # type: ignore[arg-type]


# -- time ----------------------------------------------------------------------------------


def test_expired_token() -> None:
    s = signer()
    token = s.sign(b"x", timestamp=int(time.time()) - 100)
    with pytest.raises(SignatureExpired):
        s.unsign(token, max_age=50)
    assert s.unsign(token, max_age=200) == b"x"
    assert s.unsign(token, max_age=None) == b"x"


def test_age_equal_to_max_age_is_accepted() -> None:
    s = signer()
    now = int(time.time())
    token = s.sign(b"x", timestamp=now - 10)
    assert s.unsign(token, max_age=10 + (int(time.time()) - now)) == b"x"


def test_future_timestamps_are_refused_beyond_the_skew() -> None:
    s = signer()
    now = int(time.time())
    assert s.unsign(s.sign(b"x", timestamp=now + MAX_CLOCK_SKEW - 5), max_age=10) == b"x"
    future = s.sign(b"x", timestamp=now + MAX_CLOCK_SKEW + 5)
    with pytest.raises(BadSignature) as caught:
        s.unsign(future, max_age=None)
    assert not isinstance(caught.value, SignatureExpired)


@pytest.mark.parametrize("timestamp", [-1, True, 1.5, "1"])
def test_sign_refuses_bad_timestamps(timestamp: object) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        signer().sign(b"x", timestamp=timestamp)  # type: ignore[arg-type]
