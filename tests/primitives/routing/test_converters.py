"""Tests for flasgo.routing.converters: each built-in's grammar, conversions and refusals."""

from __future__ import annotations

import math
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flasgo.routing.converters import (
    DEFAULT_CONVERTERS,
    Converter,
    FloatConverter,
    IntConverter,
    PathConverter,
    StringConverter,
    UUIDConverter,
)


def test_default_converters_are_registered_by_name() -> None:
    assert {
        "str": StringConverter,
        "int": IntConverter,
        "float": FloatConverter,
        "path": PathConverter,
        "uuid": UUIDConverter,
    } == DEFAULT_CONVERTERS


def test_base_converter_defaults() -> None:
    converter = Converter()
    assert Converter.regex == "[^/]+"
    assert Converter.spans_segments is False
    assert converter.to_python("abc") == "abc"
    assert converter.to_url("abc") == "abc"
    assert converter.to_url(5) == "5"
    with pytest.raises(TypeError):
        converter.to_url(object())
    with pytest.raises(TypeError):
        converter.to_url(True)


def test_only_path_spans_segments() -> None:
    spanning = {name for name, cls in DEFAULT_CONVERTERS.items() if cls.spans_segments}
    assert spanning == {"path"}


@pytest.mark.parametrize("text", ["a", "hello world", "é", "..", "x" * 1000])
def test_str_accepts_one_segment(text: str) -> None:
    assert StringConverter().to_python(text) == text


@pytest.mark.parametrize("text", ["", "a/b"])
def test_str_refuses_empty_or_slash(text: str) -> None:
    with pytest.raises(ValueError):
        StringConverter().to_python(text)
    with pytest.raises(ValueError):
        StringConverter().to_url(text)


def test_str_to_url_renders_numbers_and_uuids() -> None:
    value = uuid.UUID(int=1)
    assert StringConverter().to_url(42) == "42"
    assert StringConverter().to_url(value) == str(value)


@pytest.mark.parametrize(("text", "expected"), [("0", 0), ("007", 7), ("9" * 30, int("9" * 30))])
def test_int_accepts_ascii_digits(text: str, expected: int) -> None:
    assert IntConverter().to_python(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "+1", "1.0", "1_000", " 1", "١٢", "²", "9" * 31])
def test_int_refuses_everything_else(text: str) -> None:
    with pytest.raises(ValueError):
        IntConverter().to_python(text)


def test_int_to_url() -> None:
    assert IntConverter().to_url(12) == "12"
    with pytest.raises(ValueError):
        IntConverter().to_url(-1)
    for bad in (True, 1.5, "12"):
        with pytest.raises(TypeError):
            IntConverter().to_url(bad)


@pytest.mark.parametrize(("text", "expected"), [("1", 1.0), ("3.25", 3.25), ("0.5", 0.5)])
def test_float_accepts_plain_decimals(text: str, expected: float) -> None:
    assert FloatConverter().to_python(text) == expected


@pytest.mark.parametrize("text", ["", ".5", "1.", "-1.0", "1e5", "inf", "nan", "1.2.3", "١.٢"])
def test_float_refuses_everything_else(text: str) -> None:
    with pytest.raises(ValueError):
        FloatConverter().to_python(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.5, "1.5"), (3, "3"), (1e20, "100000000000000000000"), (1e-7, "0.0000001")],
)
def test_float_to_url_has_no_exponent(value: float, text: str) -> None:
    assert FloatConverter().to_url(value) == text


@pytest.mark.parametrize("value", [-1.0, math.inf, math.nan])
def test_float_to_url_refuses_negative_and_non_finite(value: float) -> None:
    with pytest.raises(ValueError):
        FloatConverter().to_url(value)


def test_float_to_url_refuses_other_types() -> None:
    for bad in (True, "1.5", None):
        with pytest.raises(TypeError):
            FloatConverter().to_url(bad)


@given(st.floats(min_value=0, allow_nan=False, allow_infinity=False))
def test_float_round_trips(value: float) -> None:
    converter = FloatConverter()
    assert converter.to_python(converter.to_url(value)) == value


@pytest.mark.parametrize("text", ["a", "a/b", "a/b/c.txt", "x..y/z"])
def test_path_accepts_segments(text: str) -> None:
    assert PathConverter().to_python(text) == text
    assert PathConverter().to_url(text) == text


@pytest.mark.parametrize("text", ["", "..", "a/../b", "./a", "a/."])
def test_path_refuses_dot_segments(text: str) -> None:
    with pytest.raises(ValueError):
        PathConverter().to_python(text)


@pytest.mark.parametrize("text", ["", "/a", "a/", "a//b"])
def test_path_to_url_refuses_empty_segments(text: str) -> None:
    with pytest.raises(ValueError):
        PathConverter().to_url(text)


def test_path_to_url_needs_str() -> None:
    with pytest.raises(TypeError):
        PathConverter().to_url(5)


def test_uuid_accepts_canonical_forms_any_case() -> None:
    value = uuid.uuid4()
    assert UUIDConverter().to_python(str(value)) == value
    assert UUIDConverter().to_python(str(value).upper()) == value


@pytest.mark.parametrize(
    "text",
    [
        "12345678123456781234567812345678",
        "{12345678-1234-1234-1234-123456789abc}",
        "12345678-1234-1234-1234-123456789abg",
        "12345678-1234-1234-1234-123456789abcd",
    ],
)
def test_uuid_refuses_other_spellings(text: str) -> None:
    with pytest.raises(ValueError):
        UUIDConverter().to_python(text)


def test_uuid_to_url() -> None:
    value = uuid.UUID("12345678-1234-1234-1234-123456789ABC")
    assert UUIDConverter().to_url(value) == "12345678-1234-1234-1234-123456789abc"
    assert UUIDConverter().to_url(str(value).upper()) == str(value)
    with pytest.raises(ValueError):
        UUIDConverter().to_url("nope")
    with pytest.raises(TypeError):
        UUIDConverter().to_url(5)


@given(st.text())
def test_builtins_only_raise_value_error_on_any_text(text: str) -> None:
    expected = {"str": str, "path": str, "int": int, "float": float, "uuid": uuid.UUID}
    for name, cls in DEFAULT_CONVERTERS.items():
        try:
            value = cls().to_python(text)
        except ValueError:
            continue
        assert isinstance(value, expected[name])
