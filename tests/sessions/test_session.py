"""Tests for the Session mapping's tracking, login/logout and the cache-marking rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flasgo.response import Response
from flasgo.sessions import USER_ID_KEY, Session, SessionConflict, login, logout
from flasgo.sessions.session import (
    decode_session_data,
    encode_session_data,
    mark_private,
    new_session_id,
)

# -- tracking ------------------------------------------------------------------------------


def test_a_fresh_session_is_untouched() -> None:
    session = Session()
    assert session.new
    assert not session.accessed
    assert not session.modified
    assert session.session_id is None
    assert session.rejected is None


@pytest.mark.parametrize(
    "read",
    [
        lambda s: s["a"],
        lambda s: s.get("a"),
        lambda s: s.get("missing"),
        lambda s: "a" in s,
        lambda s: len(s),
        lambda s: list(s),
        lambda s: bool(s),
        lambda s: s.keys(),
        lambda s: list(s.items()),
        lambda s: list(s.values()),
        lambda s: s == {"a": 1},
        lambda s: dict(s),
    ],
)
def test_every_read_marks_accessed_but_not_modified(read: Callable[[Session], Any]) -> None:
    # CVE-2026-27205: `in` and `len` count as access too.
    session = Session({"a": 1}, new=False)
    read(session)
    assert session.accessed
    assert not session.modified


def test_repr_shows_no_values_and_is_not_an_access() -> None:
    session = Session({"token": "secret-value"})
    assert repr(session) == "<Session keys=1 modified=False new=True>"
    assert not session.accessed


def test_missing_key_raises_and_still_marks_accessed() -> None:
    session = Session()
    with pytest.raises(KeyError):
        session["missing"]
    assert session.accessed
    assert not session.modified


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.__setitem__("b", 2),
        lambda s: s.__setitem__("a", 2),
        lambda s: s.__delitem__("a"),
        lambda s: s.pop("a"),
        lambda s: s.popitem(),
        lambda s: s.setdefault("b", 1),
        lambda s: s.update(b=2),
        lambda s: s.clear(),
        lambda s: s.regenerate(),
    ],
)
def test_real_changes_mark_modified(write: Callable[[Session], Any]) -> None:
    session = Session({"a": 1}, new=False)
    write(session)
    assert session.modified
    assert session.accessed


@pytest.mark.parametrize(
    "noop",
    [
        lambda s: s.pop("missing", None),
        lambda s: s.setdefault("a", 5),
        lambda s: s.update({}),
        lambda s: s.__setitem__("a", 1),
        lambda s: s.__setitem__("t", "text"),
        lambda s: s.__setitem__("n", None),
    ],
)
def test_no_ops_do_not_mark_modified(noop: Callable[[Session], Any]) -> None:
    session = Session({"a": 1, "t": "text", "n": None}, new=False)
    noop(session)
    assert not session.modified
    assert session.accessed


def test_clearing_an_empty_session_is_not_a_change() -> None:
    session = Session()
    session.clear()
    assert not session.modified


def test_deleting_a_missing_key_is_not_a_change() -> None:
    session = Session({"a": 1})
    with pytest.raises(KeyError):
        del session["missing"]
    assert not session.modified


def test_reassigning_a_container_is_a_change() -> None:
    cart = [1]
    session = Session({"cart": cart}, new=False)
    cart.append(2)
    session["cart"] = cart
    assert session.modified


def test_equal_values_of_another_type_are_a_change() -> None:
    session = Session({"a": 1}, new=False)
    session["a"] = True
    assert session.modified
    assert session["a"] is True


def test_modified_can_be_set_by_hand() -> None:
    session = Session({"cart": [1]}, new=False)
    session["cart"].append(2)
    assert not session.modified
    session.modified = True
    assert session.modified
    assert Session(modified=True).modified


def test_keys_must_be_strings() -> None:
    session = Session()
    with pytest.raises(TypeError, match="keys must be str"):
        session[1] = "x"  # type: ignore[index]
    assert not session.modified


def test_data_is_copied_in() -> None:
    data = {"a": 1}
    session = Session(data)
    session["a"] = 2
    assert data == {"a": 1}


def test_regenerate_rotates_a_server_side_id() -> None:
    session = Session({"a": 1}, new=False, session_id="x" * 43)
    session.regenerate()
    assert session.session_id != "x" * 43
    assert len(session.session_id or "") == 43
    assert session.regenerated
    assert session["a"] == 1


def test_regenerate_keeps_cookie_sessions_without_id() -> None:
    session = Session({"a": 1}, new=False)
    session.regenerate()
    assert session.session_id is None
    assert session.modified


def test_new_session_ids_are_random_and_url_safe() -> None:
    ids = {new_session_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 43 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


# -- login / logout ------------------------------------------------------------------------


def test_login_rotates_and_keeps_anonymous_data() -> None:
    session = Session({"cart": [1]}, new=False, session_id="a" * 43)
    login(session, 42)
    assert session[USER_ID_KEY] == 42
    assert session["cart"] == [1]
    assert session.session_id != "a" * 43
    assert session.regenerated


def test_login_as_another_user_drops_the_previous_data() -> None:
    session = Session({USER_ID_KEY: "alice", "secret": 1}, new=False)
    login(session, "bob")
    assert dict(session) == {USER_ID_KEY: "bob"}


def test_login_as_the_same_user_keeps_data_and_still_rotates() -> None:
    session = Session({USER_ID_KEY: "alice", "theme": "dark"}, new=False, session_id="a" * 43)
    login(session, "alice")
    assert dict(session) == {USER_ID_KEY: "alice", "theme": "dark"}
    assert session.session_id != "a" * 43


@pytest.mark.parametrize("user_id", [True, None, 1.5, ["x"]])
def test_login_refuses_odd_user_ids(user_id: object) -> None:
    with pytest.raises(TypeError, match="user_id"):
        login(Session(), user_id)  # type: ignore[arg-type]


def test_logout_clears_and_rotates() -> None:
    session = Session({USER_ID_KEY: 1, "x": 2}, new=False, session_id="a" * 43)
    logout(session)
    assert not session._data
    assert session.modified
    assert session.session_id != "a" * 43


# -- encoding ------------------------------------------------------------------------------


def test_encoding_is_compact_sorted_utf8() -> None:
    assert encode_session_data({"b": [1, 2], "a": "é"}) == '{"a":"é","b":[1,2]}'.encode()


@pytest.mark.parametrize("value", [{"when": object()}, {"n": float("nan")}, {"k": {1: 1, "a": 2}}])
def test_non_json_values_are_a_clear_type_error(value: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="JSON types"):
        encode_session_data(value)


@pytest.mark.parametrize("raw", [b"[1]", b"nope", b'"x"', b"[" * 100_000, b"\xff"])
def test_decoding_anything_but_an_object_gives_none(raw: bytes) -> None:
    assert decode_session_data(raw) is None


# -- Vary and Cache-Control ----------------------------------------------------------------


def test_conflict_is_a_409() -> None:
    assert SessionConflict().status_code == 409
    assert "retry" in SessionConflict().detail


@pytest.mark.parametrize(
    ("vary", "expected"),
    [
        (None, "Cookie"),
        ("Accept-Encoding", "Accept-Encoding, Cookie"),
        ("accept-encoding, COOKIE", "accept-encoding, COOKIE"),
        ("*", "*"),
        ("Origin ,  cookie ", "Origin ,  cookie "),
    ],
)
def test_vary_cookie_is_merged(vary: str | None, expected: str) -> None:
    response = Response("x")
    if vary is not None:
        response.headers["Vary"] = vary
    mark_private(response, default_no_store=True)
    assert response.headers["vary"] == expected


def test_vary_spread_over_several_headers() -> None:
    response = Response("x")
    response.headers["Vary"] = "Origin"
    response.headers.add("Vary", "Cookie")
    mark_private(response, default_no_store=True)
    assert response.headers.getlist("vary") == ["Origin", "Cookie"]


def test_default_no_store_block_is_left_to_apply() -> None:
    response = Response("x")
    mark_private(response, default_no_store=True)
    assert "cache-control" not in response.headers


@pytest.mark.parametrize(("default_no_store", "public"), [(False, False), (True, True)])
def test_private_without_the_default_no_store(default_no_store: bool, public: bool) -> None:
    response = Response("x", allow_public_cache=public)
    mark_private(response, default_no_store=default_no_store)
    assert response.headers["cache-control"] == "private"


@pytest.mark.parametrize(
    ("cache_control", "expected"),
    [
        ("public, max-age=600", "private, max-age=600"),
        ("max-age=60, s-maxage=600", "private, max-age=60, s-maxage=600"),
        ("PUBLIC", "private"),
        ("no-store", "no-store"),
        ("No-Store, max-age=0", "No-Store, max-age=0"),
        ("private, max-age=5", "private, max-age=5"),
        ("Private", "Private"),
        ("no-cache", "private, no-cache"),
    ],
)
def test_existing_cache_control_is_made_private(cache_control: str, expected: str) -> None:
    response = Response("x", allow_public_cache=True)
    response.headers["Cache-Control"] = cache_control
    mark_private(response, default_no_store=True)
    assert response.headers.getlist("cache-control") == [expected]


def test_public_in_a_second_cache_control_header_is_dropped() -> None:
    response = Response("x", allow_public_cache=True)
    response.headers["Cache-Control"] = "max-age=60"
    response.headers.add("Cache-Control", "public")
    mark_private(response, default_no_store=True)
    assert response.headers.getlist("cache-control") == ["private, max-age=60"]
