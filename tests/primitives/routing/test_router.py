"""Tests for flasgo.routing.router: precedence, merging, conflicts, hostile paths, building."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import ClassVar
from urllib.parse import unquote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from flasgo.exceptions import FlasgoError, RoutingError
from flasgo.routing import BuildError, Converter, Router, RuleEntry
from tests.linear import linear_ratio


class HexConverter(Converter):
    regex: ClassVar[str] = "[0-9a-f]+"

    def to_python(self, value: str) -> object:
        return int(value, 16)

    def to_url(self, value: object) -> str:
        if not isinstance(value, int):
            raise TypeError("needs an int")
        return format(value, "x")


def make(*rules: str) -> Router[str]:
    router: Router[str] = Router()
    for rule in rules:
        router.add(rule, ["GET"], rule, name=rule)
    return router


def target(router: Router[str], path: str) -> str | None:
    found = router.match(path)
    return None if found is None else found[0].targets["GET"]


# --- matching -----------------------------------------------------------------------------


def test_static_and_dynamic_match() -> None:
    router = make("/", "/users", "/users/<int:user_id>", "/users/<int:user_id>/posts/<slug>")
    assert router.match("/") is not None
    found = router.match("/users/42/posts/hello")
    assert found is not None
    entry, params = found
    assert entry.rule == "/users/<int:user_id>/posts/<slug>"
    assert params == {"user_id": 42, "slug": "hello"}
    assert router.match("/users/x") is None
    assert router.match("/nope") is None


def test_static_match_returns_empty_params() -> None:
    router = make("/a/b")
    assert router.match("/a/b") == (next(iter(router)), {})


def test_trailing_slash_is_significant() -> None:
    router = make("/a", "/b/")
    assert target(router, "/a") == "/a"
    assert router.match("/a/") is None
    assert target(router, "/b/") == "/b/"
    assert router.match("/b") is None


def test_dynamic_trailing_slash() -> None:
    router = make("/u/<name>/")
    assert router.match("/u/bob/") is not None
    assert router.match("/u/bob") is None


PRECEDENCE_RULES = [
    "/a/static",
    "/a/<int:n>",
    "/a/<uuid:u>",
    "/a/<float:f>",
    "/a/<name>",
    "/a/<stem>.<ext>",
    "/a/<path:p>",
]
PRECEDENCE_CASES = {
    "/a/static": "/a/static",
    "/a/12": "/a/<int:n>",
    "/a/1.5": "/a/<float:f>",
    "/a/12345678-1234-1234-1234-123456789abc": "/a/<uuid:u>",
    "/a/readme.txt": "/a/<stem>.<ext>",
    "/a/readme": "/a/<name>",
    "/a/x/y": "/a/<path:p>",
}


@pytest.mark.parametrize(
    "order", list(itertools.islice(itertools.permutations(range(7)), 0, None, 97))
)
def test_precedence_ignores_registration_order(order: tuple[int, ...]) -> None:
    router = make(*(PRECEDENCE_RULES[index] for index in order))
    for path, rule in PRECEDENCE_CASES.items():
        assert target(router, path) == rule, path


def test_reverse_registration_order_gives_same_precedence() -> None:
    router = make(*reversed(PRECEDENCE_RULES))
    for path, rule in PRECEDENCE_CASES.items():
        assert target(router, path) == rule, path


def test_backtracking_reaches_every_rule() -> None:
    router = make("/a/<x>/b", "/a/static/c")
    assert target(router, "/a/static/c") == "/a/static/c"
    assert target(router, "/a/static/b") == "/a/<x>/b"
    found = router.match("/a/static/b")
    assert found is not None
    assert found[1] == {"x": "static"}


def test_backtracking_between_converters_drops_stale_values() -> None:
    router = make("/a/<int:n>/x", "/a/<name>/y", "/a/<p>-<q>/z")
    assert router.match("/a/5/y") == (
        next(e for e in router if e.rule == "/a/<name>/y"),
        {"name": "5"},
    )
    found = router.match("/a/1-2/z")
    assert found is not None
    assert found[1] == {"p": "1", "q": "2"}


def test_mixed_segment_splits_at_first_literal() -> None:
    router = make("/files/<name>.<ext>", "/v<int:n>")
    found = router.match("/files/archive.tar.gz")
    assert found is not None
    assert found[1] == {"name": "archive", "ext": "tar.gz"}
    found = router.match("/v12")
    assert found is not None
    assert found[1] == {"n": 12}
    assert router.match("/vx") is None
    assert router.match("/files/noext") is None


def test_last_placeholder_before_a_suffix_is_greedy() -> None:
    router = make("/d/<name>.json")
    found = router.match("/d/a.json.json")
    assert found is not None
    assert found[1] == {"name": "a.json"}


def test_path_converter() -> None:
    router = make("/static/<path:p>", "/edit/<path:p>/edit", "/x/<a>-<path:rest>")
    found = router.match("/static/css/site.css")
    assert found is not None
    assert found[1] == {"p": "css/site.css"}
    found = router.match("/edit/a/edit/edit")
    assert found is not None
    assert found[1] == {"p": "a/edit"}
    found = router.match("/x/k-v/w")
    assert found is not None
    assert found[1] == {"a": "k", "rest": "v/w"}
    for path in ("/static/", "/static", "/static/a/", "/static/a//b", "/static/../etc", "/edit/x"):
        assert router.match(path) is None, path


def test_custom_converter() -> None:
    router: Router[str] = Router()
    router.add_converter("hex", HexConverter)
    router.add("/c/<hex:color>", ["GET"], "c", name="c")
    found = router.match("/c/ff")
    assert found is not None
    assert found[1] == {"color": 255}
    assert router.match("/c/zz") is None
    assert router.build("c", {"color": 255}) == "/c/ff"


def test_custom_converter_value_error_means_no_match() -> None:
    class Even(Converter):
        regex: ClassVar[str] = "[0-9]+"

        def to_python(self, value: str) -> object:
            if int(value) % 2:
                raise ValueError("odd")
            return int(value)

    router: Router[str] = Router()
    router.add_converter("even", Even)
    router.add("/n/<even:n>", ["GET"], "even", name="even")
    router.add("/n/<name>", ["GET"], "name", name="name")
    assert target(router, "/n/4") == "even"
    assert target(router, "/n/3") == "name"


def test_custom_spanning_converter_is_a_tail() -> None:
    class Everything(Converter):
        regex: ClassVar[str] = ".+"
        spans_segments: ClassVar[bool] = True
        priority: ClassVar[int] = 100

    router: Router[str] = Router()
    router.add_converter("everything", Everything)
    router.add("/e/<everything:rest>", ["GET"], "e", name="e")
    found = router.match("/e/a//b/")
    assert found is not None
    assert found[1] == {"rest": "a//b/"}


def test_many_params() -> None:
    router = make("/<a>/<int:b>/<c>.<d>")
    found = router.match("/x/1/y.z")
    assert found is not None
    assert found[1] == {"a": "x", "b": 1, "c": "y", "d": "z"}


# --- registration -------------------------------------------------------------------------


def test_methods_merge_into_one_entry() -> None:
    router: Router[str] = Router()
    router.add("/items", ["get"], "list", name="list")
    router.add("/items", ["POST"], "create", name="create")
    assert len(router) == 1
    entry = next(iter(router))
    assert entry.targets == {"GET": "list", "POST": "create"}
    assert entry.names == {"GET": "list", "POST": "create"}
    assert entry.allow == "GET, HEAD, OPTIONS, POST"
    assert entry.methods == frozenset({"GET", "HEAD", "OPTIONS", "POST"})
    assert router.build("list") == router.build("create") == "/items"


def test_allow_is_updated_after_each_add() -> None:
    router: Router[str] = Router()
    router.add("/x", ["POST"], "p", name="p")
    entry = next(iter(router))
    assert entry.allow == "OPTIONS, POST"
    router.add("/x", ["GET"], "g", name="g")
    assert entry.allow == "GET, HEAD, OPTIONS, POST"


@pytest.mark.parametrize(
    ("auto_head", "auto_options", "allow"),
    [
        (True, True, "GET, HEAD, OPTIONS"),
        (False, True, "GET, OPTIONS"),
        (True, False, "GET, HEAD"),
        (False, False, "GET"),
    ],
)
def test_auto_head_and_options(auto_head: bool, auto_options: bool, allow: str) -> None:
    router: Router[str] = Router(auto_head=auto_head, auto_options=auto_options)
    router.add("/x", ["GET"], "g", name="g")
    assert next(iter(router)).allow == allow


def test_iteration_is_in_registration_order() -> None:
    router = make("/b", "/a/<x>", "/c")
    assert [entry.rule for entry in router] == ["/b", "/a/<x>", "/c"]
    assert len(router) == 3
    assert repr(next(iter(router))) == "RuleEntry('/b', allow='GET, HEAD, OPTIONS')"


def test_entry_describes_its_params() -> None:
    router = make("/u/<int:uid>/<name>")
    entry = next(iter(router))
    assert isinstance(entry, RuleEntry)
    assert entry.param_names == ("uid", "name")
    assert set(entry.converters) == {"uid", "name"}


def test_methods_must_not_be_a_plain_string() -> None:
    router: Router[str] = Router()
    with pytest.raises(TypeError, match=r"\['GET'\]"):
        router.add("/x", "GET", "t", name="x")


@pytest.mark.parametrize("methods", [[], ["GE T"], ["G\x00"], [""], [1]])
def test_bad_methods(methods: list[str]) -> None:
    with pytest.raises(RoutingError):
        Router[str]().add("/x", methods, "t", name="x")


def test_overlapping_methods_conflict() -> None:
    router = make("/x")
    with pytest.raises(RoutingError, match="'/x' already has GET"):
        router.add("/x", ["GET", "POST"], "t", name="other")
    assert next(iter(router)).allow == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/u/<a>", "/u/<b>"),
        ("/u/<a>", "/u/<str:a>"),
        ("/f/<a>.<b>", "/f/<c>.<d>"),
        ("/p/<path:a>", "/p/<path:b>"),
    ],
)
def test_rules_differing_only_in_names_conflict_whatever_the_methods(
    first: str, second: str
) -> None:
    router: Router[str] = Router()
    router.add(first, ["GET"], "t", name="one")
    with pytest.raises(RoutingError) as info:
        router.add(second, ["POST"], "t", name="two")
    assert repr(first) in str(info.value)
    assert repr(second) in str(info.value)


def test_duplicate_endpoint_name_for_another_rule() -> None:
    router: Router[str] = Router()
    router.add("/a", ["GET"], "t", name="home")
    with pytest.raises(RoutingError, match="'home' is already used by rule '/a'"):
        router.add("/b", ["GET"], "t", name="home")


def test_same_name_on_another_method_of_the_same_rule_is_fine() -> None:
    router: Router[str] = Router()
    router.add("/a", ["GET"], "t", name="home")
    router.add("/a", ["POST"], "t", name="home")
    assert next(iter(router)).names == {"GET": "home", "POST": "home"}


def test_empty_name_is_refused() -> None:
    with pytest.raises(RoutingError, match="endpoint name"):
        Router[str]().add("/a", ["GET"], "t", name="")


def test_unknown_converter_lists_known_ones() -> None:
    with pytest.raises(RoutingError, match=r"unknown converter 'hex'.*int.*add_converter"):
        make("/c/<hex:color>")


@pytest.mark.parametrize("rule", ["/<path:a>/<b>", "/<path:a>/<path:b>", "/<path:a>-<b>"])
def test_path_must_be_the_last_placeholder(rule: str) -> None:
    with pytest.raises(RoutingError, match="must be the last placeholder"):
        make(rule)


def test_add_converter_validation() -> None:
    router: Router[str] = Router()
    with pytest.raises(TypeError):
        router.add_converter("x", int)  # type: ignore[arg-type]
    with pytest.raises(RoutingError, match="identifier"):
        router.add_converter("not a name", HexConverter)

    class Broken(Converter):
        regex: ClassVar[str] = "(["

    class Grouped(Converter):
        regex: ClassVar[str] = "(a)"

    with pytest.raises(RoutingError, match="invalid regex"):
        router.add_converter("broken", Broken)
    with pytest.raises(RoutingError, match="capturing groups"):
        router.add_converter("grouped", Grouped)
    router.add("/x/<int:n>", ["GET"], "t", name="x")
    with pytest.raises(RoutingError, match="already used"):
        router.add_converter("int", HexConverter)


def test_builtin_converter_can_be_replaced_before_use() -> None:
    router: Router[str] = Router()
    router.add_converter("int", HexConverter)
    router.add("/x/<int:n>", ["GET"], "t", name="x")
    found = router.match("/x/ff")
    assert found is not None
    assert found[1] == {"n": 255}


def test_malformed_rule_is_refused_at_add() -> None:
    with pytest.raises(RoutingError, match="malformed"):
        make("/a/<int: id>")


# --- hostile paths ------------------------------------------------------------------------

HOSTILE = [
    "",
    "/",
    "//",
    "a",
    "/" * 1000,
    "/a" * 10_000,
    "/" + "x" * 100_000,
    "/\x00",
    "/static/\x00",
    "/files/\udcff.\udcfe",
    "/n/\udcff",
    "/n/١٢",
    "/u/" + "9" * 10_000,
    "/" + "a." * 50_000,
    "/static/" + "a/" * 10_000,
]


# Where each hostile path lands (None: no route); the rest match nothing.
HOSTILE_TARGETS = {
    "/": "/",
    "/static/\x00": "/static/<path:p>",
    "/files/\udcff.\udcfe": "/files/<name>.<ext>",
}


@pytest.mark.parametrize("path", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_paths_never_raise(path: str) -> None:
    router = make(
        "/",
        "/static/<path:p>",
        "/files/<name>.<ext>",
        "/n/<int:n>",
        "/u/<uuid:u>",
        "/<a>.<b>.c",
        "/<x>/<y>/z",
        "/f/<float:f>",
    )
    assert target(router, path) == HOSTILE_TARGETS.get(path)


@settings(max_examples=200)
@given(st.text())
def test_arbitrary_text_never_raises(path: str) -> None:
    router = make("/", "/<a>", "/<a>/<int:b>", "/f/<n>.<e>", "/p/<path:p>", "/x/<uuid:u>/<float:f>")
    router.match(path)
    router.match("/" + path)


# --- linear time --------------------------------------------------------------------------


def _ratio(router: Router[str], small: str, large: str) -> float:
    def run(path: str) -> Callable[[], object]:
        return lambda: [router.match(path) for _ in range(3)]

    return linear_ratio(run(small), run(large), repeats=11)


@pytest.mark.parametrize(
    ("rules", "unit", "suffix"),
    [
        (["/<a>.<b>.c"], "a.", "x"),
        (["/<a>-<b>-<c>-x"], "-", "y"),
        (["/<a>.<b>"], "a", ""),
        (["/d/<name>.json"], ".json", "x"),
        (["/<path:p>/edit"], "a/", "x"),
        (["/<a>-<path:p>/x"], "-a/", "y"),
        (["/<a>/<b>/z", "/<path:p>"], "a/", ""),
        (["/<int:n>"], "1", "x"),
        (["/<a>"], "a", ""),
    ],
)
def test_matching_is_linear(rules: list[str], unit: str, suffix: str) -> None:
    router = make(*rules)
    size = 50_000 // len(unit)
    assert _ratio(router, "/" + unit * size + suffix, "/" + unit * (2 * size) + suffix) <= 2.5


def test_lookup_does_not_scan_routes() -> None:
    # Not a timing test: a thousand sibling rules leave one trie edge per converter type.
    router: Router[str] = Router()
    for index in range(1000):
        router.add(f"/r{index}/items/<int:item_id>", ["GET"], "t", name=f"r{index}")
    assert len(router._root.static) == 1000
    node = router._root.static["r999"].static["items"]
    assert len(node.dynamic) == 1


# --- building -----------------------------------------------------------------------------


def test_build_round_trip_basics() -> None:
    router: Router[str] = Router()
    router.add("/users/<int:user_id>", ["GET"], "t", name="user")
    router.add("/files/<path:p>", ["GET"], "t", name="file")
    router.add("/id/<uuid:u>", ["GET"], "t", name="uuid")
    router.add("/f/<float:x>", ["GET"], "t", name="float")
    assert router.build("user", {"user_id": 5}) == "/users/5"
    assert router.build("file", {"p": "a b/c%d"}) == "/files/a%20b/c%25d"
    value = uuid.UUID(int=7)
    assert router.build("uuid", {"u": value}) == f"/id/{value}"
    assert router.build("float", {"x": 2.5}) == "/f/2.5"


def test_build_encodes_literals() -> None:
    router = make("/café au/<x>")
    assert router.build("/café au/<x>", {"x": "?#"}) == "/caf%C3%A9%20au/%3F%23"


def test_build_query_string() -> None:
    router: Router[str] = Router()
    router.add("/s/<int:page>", ["GET"], "t", name="search")
    url = router.build(
        "search", {"q": "a b", "page": 2, "skip": None, "tag": ["x", "y"], "t": (1,)}
    )
    assert url == "/s/2?q=a+b&tag=x&tag=y&t=1"


def test_build_unknown_name() -> None:
    router = make("/a")
    with pytest.raises(BuildError, match="no endpoint named 'b'; known endpoints: /a"):
        router.build("b")
    assert issubclass(BuildError, LookupError)
    assert issubclass(BuildError, FlasgoError)


def test_build_missing_values_lists_what_is_needed() -> None:
    router: Router[str] = Router()
    router.add("/u/<int:uid>/<name>", ["GET"], "t", name="u")
    with pytest.raises(BuildError, match="needs values for name; it takes uid, name"):
        router.build("u", {"uid": 1})


@pytest.mark.parametrize(
    ("rule", "values"),
    [
        ("/u/<int:n>", {"n": -1}),
        ("/u/<int:n>", {"n": "1"}),
        ("/u/<int:n>", {"n": 10**40}),
        ("/u/<x>", {"x": ""}),
        ("/u/<x>", {"x": "a/b"}),
        ("/u/<x>", {"x": ".."}),
        ("/u/<x>", {"x": "."}),
        ("/u/<x>", {"x": "a\\b"}),
        ("/u/<x>", {"x": "\udcff"}),
        ("/u/<x>", {"x": object()}),
        ("/p/<path:p>", {"p": "a/../b"}),
        ("/p/<path:p>", {"p": "/etc"}),
        ("/p/<path:p>", {"p": "a\\b"}),
        ("/f/<a>.<b>", {"a": "x.y", "b": "z"}),
        ("/f/<a>zz<b>", {"a": "xz", "b": "z"}),
    ],
)
def test_build_refuses_values_that_would_not_round_trip(
    rule: str, values: dict[str, object]
) -> None:
    router = make(rule)
    with pytest.raises(BuildError):
        router.build(rule, values)


def test_build_refuses_a_leading_double_slash() -> None:
    class Maybe(Converter):
        regex: ClassVar[str] = "[^/]*"

    router: Router[str] = Router()
    router.add_converter("maybe", Maybe)
    router.add("/<maybe:m>/x", ["GET"], "t", name="m")
    assert router.build("m", {"m": "a"}) == "/a/x"
    with pytest.raises(BuildError, match="host name"):
        router.build("m", {"m": ""})


def test_build_refuses_custom_text_outside_the_regex() -> None:
    class Loose(Converter):
        regex: ClassVar[str] = "[a-z]+"

    router: Router[str] = Router()
    router.add_converter("loose", Loose)
    router.add("/l/<loose:v>", ["GET"], "t", name="l")
    with pytest.raises(BuildError, match="does not match"):
        router.build("l", {"v": "ABC"})


def test_build_refuses_text_to_python_rejects() -> None:
    class OneWay(Converter):
        def to_python(self, value: str) -> object:
            raise ValueError("never")

    router: Router[str] = Router()
    router.add_converter("oneway", OneWay)
    router.add("/o/<oneway:v>", ["GET"], "t", name="o")
    with pytest.raises(BuildError, match="round-trip"):
        router.build("o", {"v": "x"})


def test_build_refuses_slash_from_a_segment_converter() -> None:
    class Slashy(Converter):
        regex: ClassVar[str] = ".+"

    router: Router[str] = Router()
    router.add_converter("slashy", Slashy)
    router.add("/s/<slashy:v>", ["GET"], "t", name="s")
    with pytest.raises(BuildError, match="contains '/'"):
        router.build("s", {"v": "a/b"})


# --- property: build then match gives the same entry and values ---------------------------

SEGMENT_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/\\"), min_size=1
)
PLACEHOLDER_VALUES = {
    "str": SEGMENT_TEXT,
    "int": st.integers(min_value=0, max_value=10**30 - 1),
    "float": st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    "uuid": st.uuids(),
    "path": st.lists(SEGMENT_TEXT, min_size=1, max_size=4).map("/".join),
}
LITERALS = st.text(alphabet="abc-_.~é ", min_size=1, max_size=4)


@st.composite
def rules_and_values(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    segments: list[str] = []
    values: dict[str, object] = {}
    count = draw(st.integers(min_value=1, max_value=4))
    for index in range(count):
        kind = draw(st.sampled_from(["static", "single", "mixed"]))
        if kind == "static":
            segments.append(draw(LITERALS.filter(lambda text: text not in {".", ".."})))
            continue
        converter = draw(st.sampled_from(["str", "int", "float", "uuid"]))
        name = f"p{index}"
        values[name] = draw(PLACEHOLDER_VALUES[converter])
        if kind == "single":
            segments.append(f"<{converter}:{name}>")
        else:
            other = f"q{index}"
            values[other] = draw(PLACEHOLDER_VALUES["str"])
            segments.append(f"{draw(LITERALS)}<{converter}:{name}>{draw(LITERALS)}<{other}>")
    if draw(st.booleans()):
        values["tail"] = draw(PLACEHOLDER_VALUES["path"])
        segments.append("<path:tail>")
    trailing = "/" if draw(st.booleans()) else ""
    return "/" + "/".join(segments) + trailing, values


@settings(max_examples=300, deadline=None)
@given(rules_and_values())
def test_match_of_build_gives_back_entry_and_values(case: tuple[str, dict[str, object]]) -> None:
    rule, values = case
    router: Router[str] = Router()
    router.add(rule, ["GET"], "t", name="target")
    try:
        url = router.build("target", values)
    except BuildError:
        assume(False)
        raise
    assert not url.startswith("//")
    assert "?" not in url
    found = router.match(unquote(url, errors="strict"))
    assert found is not None, (rule, url)
    assert found[0].rule == rule
    assert found[1] == values


@settings(max_examples=100, deadline=None)
@given(rules_and_values(), st.dictionaries(st.text(min_size=1).map(lambda k: "x" + k), st.text()))
def test_extra_values_go_to_the_query_string(
    case: tuple[str, dict[str, object]], extra: dict[str, str]
) -> None:
    rule, values = case
    router: Router[str] = Router()
    router.add(rule, ["GET"], "t", name="target")
    try:
        plain = router.build("target", values)
        url = router.build("target", {**values, **extra})
    except BuildError:
        assume(False)
        raise
    assert url.startswith(plain)
    assert ("?" in url) == bool(extra)
