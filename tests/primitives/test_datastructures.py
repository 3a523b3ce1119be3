"""Tests for MultiDict and Headers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flasgo.datastructures import Headers, MultiDict
from tests.linear import linear_ratio

# -- MultiDict ---------------------------------------------------------------------------------


def test_multidict_first_value_wins_for_mapping_access() -> None:
    m = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert m["a"] == "1"
    assert m["b"] == "2"
    assert len(m) == 2
    assert list(m) == ["a", "b"]
    assert list(m.keys()) == ["a", "b"]
    assert list(m.values()) == ["1", "2"]
    assert list(m.items()) == [("a", "1"), ("b", "2")]


def test_multidict_missing_key_raises_key_error() -> None:
    with pytest.raises(KeyError):
        MultiDict([("a", "1")])["b"]


def test_multidict_getlist_keeps_every_value_in_order() -> None:
    m = MultiDict([("a", "1"), ("b", "2"), ("a", "3"), ("a", "1")])
    assert m.getlist("a") == ["1", "3", "1"]
    assert m.getlist("b") == ["2"]
    assert m.getlist("missing") == []


def test_multidict_getlist_without_duplicates() -> None:
    m = MultiDict([("a", "1"), ("b", "")])
    assert m.getlist("a") == ["1"]
    assert m.getlist("b") == [""]
    assert m.getlist("c") == []


def test_multidict_getlist_returns_a_copy() -> None:
    m = MultiDict([("a", "1"), ("a", "2")])
    m.getlist("a").append("x")
    assert m.getlist("a") == ["1", "2"]


def test_multidict_items_multi_keeps_arrival_order() -> None:
    pairs = [("a", "1"), ("b", "2"), ("a", "3")]
    m = MultiDict(pairs)
    assert m.items(multi=True) == pairs
    assert list(m.items(multi=False)) == [("a", "1"), ("b", "2")]


def test_multidict_get_default_and_type() -> None:
    m = MultiDict([("n", "42"), ("x", "abc")])
    assert m.get("n") == "42"
    assert m.get("missing") is None
    assert m.get("missing", "d") == "d"
    assert m.get("n", type=int) == 42
    assert m.get("x", type=int) is None
    assert m.get("x", -1, type=int) == -1
    assert m.get("missing", 0, type=int) == 0


def test_multidict_get_type_only_swallows_value_error() -> None:
    def boom(value: str) -> int:
        raise TypeError(value)

    with pytest.raises(TypeError):
        MultiDict([("a", "1")]).get("a", type=boom)


def test_multidict_contains() -> None:
    m = MultiDict([("a", "")])
    assert "a" in m
    assert "b" not in m
    number: object = 1
    assert number not in m


def test_multidict_to_dict() -> None:
    m = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert m.to_dict() == {"a": "1", "b": "2"}
    assert m.to_dict(flat=False) == {"a": ["1", "3"], "b": ["2"]}


def test_multidict_equality() -> None:
    m = MultiDict([("a", "1"), ("a", "2")])
    assert m == MultiDict([("a", "1"), ("a", "2")])
    assert m != MultiDict([("a", "1")])
    assert m != MultiDict([("a", "2"), ("a", "1")])
    assert MultiDict([("a", "1")]) == {"a": "1"}
    assert MultiDict([("a", "1")]) != {"a": "2"}
    assert m != [("a", "1"), ("a", "2")]


def test_multidict_is_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(MultiDict())


def test_multidict_from_mapping_and_multidict() -> None:
    assert MultiDict({"a": "1", "b": "2"}).items(multi=True) == [("a", "1"), ("b", "2")]
    original = MultiDict([("a", "1"), ("a", "2")])
    assert MultiDict(original).getlist("a") == ["1", "2"]
    assert MultiDict().items(multi=True) == []
    assert not MultiDict()


def test_multidict_repr() -> None:
    assert repr(MultiDict([("a", "1")])) == "MultiDict([('a', '1')])"


def test_multidict_is_immutable() -> None:
    m = MultiDict([("a", "1")])
    with pytest.raises(TypeError):
        m["a"] = "2"  # type: ignore[index]  # checking the runtime refusal
    with pytest.raises(AttributeError):
        m.extra = 1  # type: ignore[attr-defined]  # slotted


@given(st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5))))
def test_multidict_matches_a_reference_model(pairs: list[tuple[str, str]]) -> None:
    m = MultiDict(pairs)
    expected: dict[str, list[str]] = {}
    for key, value in pairs:
        expected.setdefault(key, []).append(value)
    assert m.to_dict(flat=False) == expected
    assert m.to_dict() == {key: values[0] for key, values in expected.items()}
    assert list(m) == list(expected)
    assert m.items(multi=True) == pairs
    for key, values in expected.items():
        assert m[key] == values[0]
        assert m.getlist(key) == values


def test_multidict_construction_is_linear() -> None:
    def build(n: int) -> Callable[[], object]:
        pairs = [(f"k{i % 1000}", str(i)) for i in range(n)]
        return lambda: MultiDict(pairs).getlist("k1")

    n = 100_000
    assert linear_ratio(build(n), build(2 * n)) <= 2.5


# -- Headers -----------------------------------------------------------------------------------

RAW = [
    (b"host", b"example.com"),
    (b"content-type", b"text/plain"),
    (b"accept", b"a"),
    (b"accept", b"b"),
    (b"x-latin", "caf\xe9".encode("latin-1")),
]


def test_headers_lookup_is_case_insensitive() -> None:
    headers = Headers(RAW)
    assert headers["Content-Type"] == "text/plain"
    assert headers["content-type"] == "text/plain"
    assert headers["HOST"] == "example.com"
    assert headers["x-latin"] == "caf\xe9"


def test_headers_first_value_and_getlist() -> None:
    headers = Headers(RAW)
    assert headers["Accept"] == "a"
    assert headers.getlist("ACCEPT") == ["a", "b"]
    assert headers.getlist("missing") == []
    headers.getlist("accept").append("c")
    assert headers.getlist("accept") == ["a", "b"]


def test_headers_get() -> None:
    headers = Headers(RAW)
    assert headers.get("Host") == "example.com"
    assert headers.get("missing") is None
    assert headers.get("missing", "x") == "x"


def test_headers_missing_raises_key_error() -> None:
    with pytest.raises(KeyError):
        Headers(RAW)["missing"]


def test_headers_contains_iter_len_keys() -> None:
    headers = Headers(RAW)
    assert "ACCEPT" in headers
    assert "missing" not in headers
    assert 42 not in headers
    assert list(headers) == ["host", "content-type", "accept", "x-latin"]
    assert list(headers.keys()) == ["host", "content-type", "accept", "x-latin"]
    assert len(headers) == 4
    assert dict(headers)["accept"] == "a"


def test_headers_items_keep_every_pair() -> None:
    headers = Headers(RAW)
    assert headers.items() == [
        ("host", "example.com"),
        ("content-type", "text/plain"),
        ("accept", "a"),
        ("accept", "b"),
        ("x-latin", "caf\xe9"),
    ]


def test_headers_raw_is_the_original_list() -> None:
    assert Headers(RAW).raw is RAW
    assert Headers().raw == []
    assert len(Headers()) == 0
    assert Headers().get("a") is None


def test_headers_construction_is_lazy() -> None:
    class Exploding(list[tuple[bytes, bytes]]):
        def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
            raise AssertionError("iterated at construction")

    headers = Headers(Exploding())
    assert headers._index is None


def test_headers_index_is_built_once() -> None:
    headers = Headers(list(RAW))
    assert headers["host"] == "example.com"
    index = headers._index
    assert headers.get("accept") == "a"
    assert headers._index is index


def test_headers_mixed_case_names_from_other_servers() -> None:
    headers = Headers([(b"Content-Type", b"a"), (b"content-type", b"b")])
    assert headers.getlist("content-type") == ["a", "b"]
    assert headers.items() == [("content-type", "a"), ("content-type", "b")]


def test_headers_repr() -> None:
    assert repr(Headers([(b"a", b"1")])) == "Headers([('a', '1')])"


def test_headers_ten_thousand_duplicates_are_kept_in_order() -> None:
    # SECURITY (security-cases B1/B2): repeated headers must not be joined quadratically.
    raw = [(b"x-dup", str(i).encode()) for i in range(10_000)]
    headers = Headers(raw)
    values = headers.getlist("X-Dup")
    assert len(values) == 10_000
    assert values[0] == "0"
    assert values[-1] == "9999"
    assert headers["x-dup"] == "0"


def test_headers_index_build_is_linear() -> None:
    def build(n: int) -> Callable[[], object]:
        raw = [(b"x-dup", b"v" * 20)] * n
        return lambda: Headers(raw).getlist("x-dup")

    n = 100_000
    assert linear_ratio(build(n), build(2 * n)) <= 2.5


@given(st.lists(st.tuples(st.binary(max_size=8), st.binary(max_size=8)), max_size=20))
def test_headers_never_raise_on_arbitrary_bytes(raw: list[tuple[bytes, bytes]]) -> None:
    headers = Headers(raw)
    for name, value in raw:
        key = name.decode("latin-1")
        assert key in headers
        assert value.decode("latin-1") in headers.getlist(key)
    assert len(headers.items()) == len(raw)
