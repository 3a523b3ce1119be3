"""Tests for signed-cookie sessions driven with real Request and Response objects."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flasgo.response import Response
from flasgo.security.signing import Signer
from flasgo.sessions import CookieSessions, Session, SessionBackend, SessionTooLarge
from flasgo.sessions.cookie import MAX_COOKIE_BYTES, SESSION_SALT
from flasgo.settings import Settings
from tests.sessions.exchange import (
    OLD_SECRET,
    SECRET,
    cookie_header,
    cookie_value,
    follow,
    request,
    settings,
)

COOKIE_OCTETS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '",;\\')


def backend(**overrides: Any) -> CookieSessions:
    return CookieSessions(settings(**overrides))


def load(sessions: CookieSessions, *cookies: str) -> Session:
    return asyncio.run(sessions.load(request(*cookies)))


def save(sessions: CookieSessions, session: Session, *cookies: str, **options: Any) -> Response:
    response = Response("ok", **options)
    asyncio.run(sessions.save(request(*cookies), session, response))
    return response


def issue(sessions: CookieSessions, data: dict[str, Any]) -> str:
    """A valid session cookie holding `data`."""
    session = Session()
    session.update(data)
    return "flasgo-session=" + cookie_value(save(sessions, session))


def signed(payload: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> str:
    token = Signer(secret, salt=SESSION_SALT).sign(payload, timestamp=timestamp)
    return f"flasgo-session={token}"


def test_is_a_session_backend() -> None:
    sessions: SessionBackend = backend()
    assert sessions.has_cookie(request()) is False


# -- round trip and cookie flags -----------------------------------------------------------


def test_no_cookie_gives_an_empty_new_session() -> None:
    session = load(backend())
    assert session.new
    assert not session._data
    assert session.rejected is None


def test_written_session_loads_back() -> None:
    sessions = backend()
    session = Session()
    session["user"] = "alice"
    session["n"] = [1, {"x": None}]
    response = save(sessions, session)
    loaded = asyncio.run(sessions.load(follow(response)))
    assert not loaded.new
    assert dict(loaded) == {"user": "alice", "n": [1, {"x": None}]}
    assert sessions.has_cookie(follow(response))


def test_cookie_flags_are_secure_by_default() -> None:
    session = Session()
    session["a"] = 1
    header = cookie_header(save(backend(), session))
    assert header is not None
    assert re.fullmatch(
        r"flasgo-session=[A-Za-z0-9_-]+\.\d+\.[A-Za-z0-9_-]{43}; Path=/; Max-Age=604800; "
        r"Expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT; Secure; HttpOnly; SameSite=Lax",
        header,
    ), header


def test_cookie_flags_follow_settings() -> None:
    sessions = backend(
        SESSION_COOKIE_NAME="sid",
        SESSION_COOKIE_MAX_AGE=60,
        SESSION_COOKIE_SECURE=False,
        SESSION_COOKIE_HTTP_ONLY=False,
        SESSION_COOKIE_SAME_SITE="Strict",
    )
    session = Session()
    session["a"] = 1
    header = cookie_header(save(sessions, session), "sid")
    assert header is not None
    assert "; Max-Age=60; " in header
    assert "Secure" not in header
    assert "HttpOnly" not in header
    assert header.endswith("; SameSite=Strict")


def test_payload_is_compact_sorted_json() -> None:
    token = issue(backend(), {"b": 1, "a": [1, 2]}).partition("=")[2]
    payload = Signer(SECRET, salt=SESSION_SALT).unsign(token, max_age=None)
    assert payload == b'{"a":[1,2],"b":1}'


# -- when the cookie is written ------------------------------------------------------------


def test_untouched_session_writes_nothing_and_adds_no_vary() -> None:
    sessions = backend()
    cookie = issue(sessions, {"a": 1})
    session = load(sessions, cookie)
    response = save(sessions, session, cookie)
    assert response.cookies == []
    assert "vary" not in response.headers


def test_read_only_session_adds_vary_but_no_cookie() -> None:
    sessions = backend()
    cookie = issue(sessions, {"a": 1})
    session = load(sessions, cookie)
    assert "a" in session
    response = save(sessions, session, cookie)
    assert response.cookies == []
    assert response.headers["vary"] == "Cookie"


def test_modified_session_rewrites_the_cookie() -> None:
    sessions = backend()
    cookie = issue(sessions, {"a": 1})
    session = load(sessions, cookie)
    session["a"] = 2
    response = save(sessions, session, cookie)
    assert dict(load(sessions, f"flasgo-session={cookie_value(response)}")) == {"a": 2}
    assert response.headers["vary"] == "Cookie"


def test_emptied_session_deletes_the_cookie() -> None:
    sessions = backend()
    cookie = issue(sessions, {"a": 1})
    session = load(sessions, cookie)
    session.clear()
    response = save(sessions, session, cookie)
    header = cookie_header(response)
    assert header is not None
    assert header.startswith("flasgo-session=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970")
    assert header.endswith("; Secure; HttpOnly; SameSite=Lax")
    assert response.headers["vary"] == "Cookie"


def test_emptied_new_session_sets_no_cookie() -> None:
    session = Session()
    session["a"] = 1
    del session["a"]
    response = save(backend(), session)
    assert response.cookies == []
    assert response.headers["vary"] == "Cookie"


def test_sliding_refresh_rewrites_an_untouched_session() -> None:
    # CVE-2023-30861 / CVE-2026-35192: a refreshed cookie must still carry Vary: Cookie.
    sessions = backend(SESSION_REFRESH_EACH_REQUEST=True)
    cookie = signed(b'{"a":1}', timestamp=int(time.time()) - 1000)
    session = load(sessions, cookie)
    response = save(sessions, session, cookie)
    assert not session.accessed
    token = cookie_value(response)
    assert token != cookie.partition("=")[2]
    assert int(token.split(".")[1]) >= int(time.time()) - 5
    assert response.headers["vary"] == "Cookie"


def test_sliding_refresh_leaves_empty_sessions_alone() -> None:
    sessions = backend(SESSION_REFRESH_EACH_REQUEST=True)
    response = save(sessions, load(sessions))
    assert response.cookies == []
    assert "vary" not in response.headers


def test_without_refresh_the_expiry_does_not_slide() -> None:
    sessions = backend(SESSION_COOKIE_MAX_AGE=100)
    cookie = signed(b'{"a":1}', timestamp=int(time.time()) - 90)
    session = load(sessions, cookie)
    assert session["a"] == 1
    assert save(sessions, session, cookie).cookies == []


def test_non_json_values_fail_at_save() -> None:
    session = Session()
    session["when"] = object()
    with pytest.raises(TypeError, match="JSON types"):
        save(backend(), session)


# -- caching -------------------------------------------------------------------------------


def test_public_response_becomes_private_when_the_session_is_read() -> None:
    sessions = backend()
    session = load(sessions)
    session.get("a")
    response = Response("x", allow_public_cache=True)
    response.headers["Cache-Control"] = "public, max-age=60"
    asyncio.run(sessions.save(request(), session, response))
    assert response.headers["cache-control"] == "private, max-age=60"
    assert response.headers["vary"] == "Cookie"


def test_no_store_is_kept() -> None:
    session = Session()
    session["a"] = 1
    response = Response("x")
    response.headers["Cache-Control"] = "no-store"
    asyncio.run(backend().save(request(), session, response))
    assert response.headers["cache-control"] == "no-store"


def test_default_no_store_block_is_not_overridden() -> None:
    session = Session()
    session["a"] = 1
    response = save(backend(), session)
    assert "cache-control" not in response.headers  # the app's no-store block applies


def test_private_when_no_store_is_not_enforced() -> None:
    session = Session()
    session["a"] = 1
    response = save(backend(ENFORCE_NO_STORE_CACHE=False), session)
    assert response.headers["cache-control"] == "private"


def test_allow_public_cache_response_gets_private() -> None:
    session = Session()
    session["a"] = 1
    response = save(backend(), session, allow_public_cache=True)
    assert response.headers["cache-control"] == "private"


# -- size ----------------------------------------------------------------------------------


def test_size_limit_is_exact() -> None:
    sessions = backend()
    signer = Signer(SECRET, salt=SESSION_SALT)
    seen = set()
    for n in range(2990, 3030):
        session = Session()
        session["k"] = "x" * n
        size = len("flasgo-session=") + len(signer.sign(b'{"k":"' + b"x" * n + b'"}'))
        fits = size <= MAX_COOKIE_BYTES
        seen.add(fits)
        if fits:
            assert len(cookie_header(save(sessions, session)).partition(";")[0]) == size  # type: ignore[union-attr]
        else:
            with pytest.raises(SessionTooLarge, match="4093") as caught:
                save(sessions, session)
            assert "server-side sessions" in str(caught.value)
    assert seen == {True, False}


def test_size_error_is_a_flasgo_error() -> None:
    from flasgo.exceptions import FlasgoError

    assert issubclass(SessionTooLarge, FlasgoError)


# -- hostile and stale cookies -------------------------------------------------------------


@pytest.mark.parametrize(
    "cookies",
    [
        ("a=1; flasgo-session={c}; flasgo-session={c}",),
        ("flasgo-session={c}", "flasgo-session={c}"),
        ("flasgo-session={c}; flasgo-session=",),
    ],
)
def test_duplicate_cookies_give_an_anonymous_session(cookies: tuple[str, ...]) -> None:
    sessions = backend()
    cookie = issue(sessions, {"user": "victim"}).partition("=")[2]
    headers = [c.format(c=cookie) for c in cookies]
    assert not sessions.has_cookie(request(*headers))
    session = load(sessions, *headers)
    assert not session._data
    assert session.new
    assert session.rejected == "duplicate"


def test_empty_cookie_is_no_cookie() -> None:
    sessions = backend()
    assert not sessions.has_cookie(request("flasgo-session="))
    assert load(sessions, "flasgo-session=").rejected is None


def test_tampered_cookie_is_refused() -> None:
    sessions = backend()
    cookie = issue(sessions, {"role": "user"})
    rest = cookie.partition("=")[2].split(".", 1)[1]
    forged = Signer("x" * 40, salt=SESSION_SALT).sign(b'{"role":"admin"}').split(".")[0]
    session = load(sessions, f"flasgo-session={forged}.{rest}")
    assert not session._data
    assert session.rejected == "bad-signature"


def test_expired_cookie_is_refused() -> None:
    sessions = backend(SESSION_COOKIE_MAX_AGE=100)
    session = load(sessions, signed(b'{"a":1}', timestamp=int(time.time()) - 200))
    assert not session._data
    assert session.rejected == "expired"


def test_future_cookie_is_refused() -> None:
    session = load(backend(), signed(b'{"a":1}', timestamp=int(time.time()) + 400))
    assert session.rejected == "bad-signature"


@pytest.mark.parametrize("payload", [b"[1]", b"1", b"not json", b'"text"'])
def test_signed_non_object_payload_is_refused(payload: bytes) -> None:
    session = load(backend(), signed(payload))
    assert not session._data
    assert session.rejected == "malformed"


def test_huge_cookie_is_refused_quietly() -> None:
    session = load(backend(), "flasgo-session=" + "A" * 100_000)
    assert session.rejected == "bad-signature"


@given(st.text(alphabet=COOKIE_OCTETS, max_size=200))
def test_any_cookie_value_gives_a_session(value: str) -> None:
    session = asyncio.run(backend().load(request(f"flasgo-session={value}")))
    assert isinstance(session, Session)
    assert not session._data


def test_rejections_log_no_cookie_value(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="flasgo.session")
    token = "A" * 20 + ".1." + "B" * 43
    load(backend(), f"flasgo-session={token}")
    assert "bad-signature" in caplog.text
    assert "AAAA" not in caplog.text


# -- key rotation --------------------------------------------------------------------------


def test_fallback_key_cookies_load_and_are_resigned_with_the_new_key() -> None:
    old_cookie = issue(CookieSessions(Settings(SECRET_KEY=OLD_SECRET)), {"a": 1})
    rotated = backend(SECRET_KEY_FALLBACKS=[OLD_SECRET])
    session = load(rotated, old_cookie)
    assert dict(session) == {"a": 1}
    session["b"] = 2
    token = cookie_value(save(rotated, session, old_cookie))
    # CVE-2025-47278: the new cookie verifies with the current key alone.
    assert dict(load(backend(), f"flasgo-session={token}")) == {"a": 1, "b": 2}


def test_without_the_fallback_old_cookies_are_refused() -> None:
    old_cookie = issue(CookieSessions(Settings(SECRET_KEY=OLD_SECRET)), {"a": 1})
    assert load(backend(), old_cookie).rejected == "bad-signature"


def test_sessions_from_another_secret_are_refused() -> None:
    cookie = issue(CookieSessions(Settings(SECRET_KEY="z" * 40)), {"a": 1})
    assert not load(backend(), cookie)._data
