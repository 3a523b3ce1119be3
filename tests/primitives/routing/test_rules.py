"""Tests for flasgo.routing.rules: the rule grammar, and messages that say how to fix a rule."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flasgo.exceptions import ConfigurationError, RoutingError
from flasgo.routing.rules import ParsedRule, Placeholder, parse_rule
from tests.linear import linear_ratio


def test_static_rule() -> None:
    parsed = parse_rule("/users/list")
    assert parsed == ParsedRule("/users/list", (("users",), ("list",)))
    assert parsed.is_static
    assert parsed.placeholders == ()


def test_root_and_trailing_slash() -> None:
    assert parse_rule("/").segments == (("",),)
    assert parse_rule("/a/").segments == (("a",), ("",))
    assert parse_rule("/a").segments == (("a",),)


def test_placeholders_default_to_str() -> None:
    parsed = parse_rule("/users/<user_id>/<int:n>")
    assert parsed.placeholders == (Placeholder("user_id", "str", 7), Placeholder("n", "int", 17))
    assert not parsed.is_static


def test_mixed_segment() -> None:
    parsed = parse_rule("/files/<name>.<ext>")
    assert parsed.segments == (
        ("files",),
        (Placeholder("name", "str", 7), ".", Placeholder("ext", "str", 14)),
    )


def test_literal_text_around_a_placeholder() -> None:
    assert parse_rule("/v<int:n>-x").segments == (("v", Placeholder("n", "int", 2), "-x"),)


def test_routing_error_is_a_configuration_error() -> None:
    assert issubclass(RoutingError, ConfigurationError)
    assert issubclass(RoutingError, ValueError)


def test_message_names_the_position_and_the_fix() -> None:
    with pytest.raises(RoutingError) as info:
        parse_rule("/a/<int: id>")
    assert str(info.value).startswith(
        "Route rule '/a/<int: id>' is malformed at position 3: "
        "placeholders look like <name> or <converter:name>"
    )


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ("users", "must start with '/'"),
        ("", "must start with '/'"),
        ("/a\x00b", "control characters"),
        ("/a\tb", "control characters"),
        ("/a\x7f", "control characters"),
        ("/a?b=1", "query string"),
        ("/a#top", "fragment"),
        ("/a/<id", "never closed"),
        ("/a/id>", "'>' without '<'"),
        ("/a/<>", "placeholders look like"),
        ("/a/<int:>", "placeholders look like"),
        ("/a/<:x>", "placeholders look like"),
        ("/a/< id>", "placeholders look like"),
        ("/a/<int:1x>", "placeholders look like"),
        ("/a/<class>", "placeholders look like"),
        ("/a/<a:b:c>", "placeholders look like"),
        ("/a/<int:x/y>", "never closed"),
        ("/a/<x>/<x>", "used twice"),
        ("/a/<x><y>", "two placeholders touch"),
        ("/a//b", "empty segment"),
        ("//", "empty segment"),
        ("/a/../b", "'..' segments"),
        ("/./b", "'.' and '..'"),
        ("/a\udcff", "surrogate"),
    ],
)
def test_malformed_rules(rule: str, fragment: str) -> None:
    with pytest.raises(RoutingError, match=None) as info:
        parse_rule(rule)
    assert fragment in str(info.value)
    assert repr(rule) in str(info.value)


def test_placeholder_with_slash_is_reported() -> None:
    with pytest.raises(RoutingError, match="never closed in its segment"):
        parse_rule("/a/<x/>")


def test_non_str_rule_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_rule(b"/a")  # type: ignore[arg-type]


def test_whitespace_and_unicode_literals_are_allowed() -> None:
    assert parse_rule("/café au lait").segments == (("café au lait",),)


@given(st.text())
def test_parser_only_raises_routing_error(text: str) -> None:
    with contextlib.suppress(RoutingError):
        parse_rule(text)


@given(st.text(alphabet="/<>:ab_1.-", max_size=30).map(lambda text: "/" + text))
def test_parser_only_raises_routing_error_on_rule_like_text(text: str) -> None:
    try:
        parsed = parse_rule(text)
    except RoutingError:
        return
    assert parsed.rule == text


def _ratio(small: str, large: str) -> float:
    def run(rule: str) -> Callable[[], object]:
        def parse() -> None:
            with contextlib.suppress(RoutingError):
                parse_rule(rule)

        return parse

    return linear_ratio(run(small), run(large), repeats=11)


@pytest.mark.parametrize("unit", ["a/", "<a", "<x>-", "a>", "<int:v>.", "<int:v>.x/"])
def test_parsing_is_linear(unit: str) -> None:
    assert _ratio("/" + unit * 2_000, "/" + unit * 4_000) <= 2.5
