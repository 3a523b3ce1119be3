"""The router: registered rules compiled into a segment trie, path matching and URL building.

Everything is precomputed in ``Router.add`` so that ``Router.match`` does at most one dict
lookup for fully static rules and otherwise one walk down a trie, one level per path
segment. Precedence does not depend on registration order: at each segment a static child
beats dynamic ones, and dynamic ones are tried by converter priority (int/uuid, float,
custom, mixed literal+placeholder segments, str), path-like converters last, with
backtracking when a deeper segment fails.

Mixed segments such as ``<name>.<ext>`` compile to one regex built from the converters'
regexes and ``re.escape``-d literals. To keep matching linear in the segment length, every
placeholder but the last one in a segment ends at the first occurrence of the literal text
after it (an atomic group, no backtracking); the last one takes the rest greedily. So
``archive.tar.gz`` gives ``name='archive'`` and ``ext='tar.gz'``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from typing import Generic, TypeVar
from urllib.parse import quote, urlencode

from flasgo.exceptions import FlasgoError, RoutingError
from flasgo.routing.converters import DEFAULT_CONVERTERS, Converter
from flasgo.routing.rules import ParsedRule, Piece, Placeholder, parse_rule

__all__ = ["BuildError", "Router", "RuleEntry"]

T = TypeVar("T")

_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SAFE = "/!$&'()*+,;=:@"
_MIXED_PRIORITY = 40


class BuildError(FlasgoError, LookupError):
    """A URL cannot be built: unknown endpoint name, missing or unacceptable value."""


class _Node:
    __slots__ = ("dynamic", "edges", "is_plain", "leaf", "static", "tail_list", "tails")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.edges: dict[tuple[object, ...], _Edge] = {}
        self.dynamic: tuple[_Edge, ...] = ()
        self.tails: dict[tuple[object, ...], _Tail] = {}
        self.tail_list: tuple[_Tail, ...] = ()
        self.leaf: RuleEntry[object] | None = None
        self.is_plain = True


class _Edge:
    """A dynamic segment (one placeholder, or literals mixed with placeholders)."""

    __slots__ = (
        "check",
        "checks",
        "converters",
        "kind",
        "node",
        "pattern",
        "sort_key",
        "to_python",
    )

    def __init__(self, converters: list[Converter], pattern: re.Pattern[str] | None) -> None:
        self.node = _Node()
        self.pattern = pattern
        self.converters = tuple(converters)
        self.checks = tuple(_checker(c) for c in converters)
        self.check = self.checks[0]
        self.to_python = converters[0].to_python
        self.sort_key: tuple[int, int, str] = (0, 0, "")


class _Tail:
    """The rest of a rule from the segment holding its path-like placeholder."""

    __slots__ = ("checks", "converters", "entry", "pattern", "sort_key")

    def __init__(self, converters: list[Converter], pattern: re.Pattern[str]) -> None:
        self.converters = tuple(converters)
        self.checks = tuple(_checker(c) for c in converters)
        self.pattern = pattern
        self.entry: RuleEntry[object] | None = None
        self.sort_key: tuple[int, str] = (0, "")


def _checker(converter: Converter) -> re.Pattern[str] | None:
    if converter.validates_itself:
        return None
    return re.compile(converter.regex)


class RuleEntry(Generic[T]):
    """One rule with every method registered on it.

    Attributes:
        rule: The rule text as first registered.
        names: Endpoint name per registered method (upper-case).
        targets: Target per registered method.
        allow: The ``Allow`` header value: registered methods, plus HEAD when GET is
            registered and auto_head is on, plus OPTIONS when auto_options is on;
            sorted and joined by ``", "``.
        methods: The same methods as ``allow``, as a set.
        param_names: Placeholder names in rule order.
        converters: Converter instance per placeholder name.
    """

    __slots__ = (
        "_only_param",
        "_plan",
        "allow",
        "converters",
        "methods",
        "names",
        "param_names",
        "rule",
        "targets",
    )

    def __init__(
        self,
        rule: str,
        param_names: tuple[str, ...],
        converters: dict[str, Converter],
        plan: list[_Step],
    ) -> None:
        self.rule = rule
        self.names: dict[str, str] = {}
        self.targets: dict[str, T] = {}
        self.allow = ""
        self.methods: frozenset[str] = frozenset()
        self.param_names = param_names
        self.converters = converters
        self._plan = plan
        self._only_param = param_names[0] if len(param_names) == 1 else None

    def __repr__(self) -> str:
        return f"RuleEntry({self.rule!r}, allow={self.allow!r})"


class _Step:
    """How ``build`` renders one segment (or the tail) of a rule."""

    __slots__ = ("literal", "pattern", "pieces")

    def __init__(
        self, pieces: tuple[Piece, ...], pattern: re.Pattern[str] | None, literal: str | None
    ) -> None:
        self.pieces = pieces
        self.pattern = pattern
        self.literal = literal


def _validate_methods(methods: Collection[str]) -> list[str]:
    if isinstance(methods, str | bytes):
        raise TypeError(f"methods must be a collection of names, e.g. [{methods!r}], not a str")
    result: list[str] = []
    items: Collection[object] = methods  # NOTE: callers may be untyped; check each one
    for method in items:
        if not isinstance(method, str) or _TOKEN_RE.fullmatch(method) is None:
            raise RoutingError(f"{method!r} is not an HTTP method name; use e.g. 'GET' or 'POST'")
        result.append(method.upper())
    if not result:
        raise RoutingError("methods must not be empty; pass e.g. ['GET']")
    return result


def _literal_length(pieces: tuple[Piece, ...]) -> int:
    return sum(len(piece) for piece in pieces if isinstance(piece, str))


class Router(Generic[T]):
    """Compiled route table: add rules, match paths, build URLs.

    Args:
        auto_head: Answer HEAD wherever GET is registered (shows in ``allow``).
        auto_options: Answer OPTIONS on every rule (shows in ``allow``).
    """

    def __init__(self, *, auto_head: bool = True, auto_options: bool = True) -> None:
        self.auto_head = auto_head
        self.auto_options = auto_options
        self._converter_types: dict[str, type[Converter]] = dict(DEFAULT_CONVERTERS)
        self._converters: dict[str, Converter] = {}
        self._used_converters: set[str] = set()
        self._root = _Node()
        self._static: dict[str, RuleEntry[T]] = {}
        self._entries: list[RuleEntry[T]] = []
        # NOTE: one name may own several rules (one view under two routes, as in Flask).
        self._by_name: dict[str, list[RuleEntry[T]]] = {}
        # PERF/SECURITY: paths are split at most this many times; anything deeper than the
        # deepest rule stays in one last part, so 10,000 segments cost one slice, not a list.
        self._max_split = 1

    def add_converter(self, name: str, converter: type[Converter]) -> None:
        """Register a converter class under a name usable as ``<name:param>``.

        Args:
            name: A Python identifier, e.g. ``"hex"``.
            converter: A ``Converter`` subclass; its ``regex`` must compile and must not
                contain capturing groups (use ``(?:...)``).

        Raises:
            TypeError: ``converter`` is not a Converter subclass.
            RoutingError: The name is not an identifier, a rule already uses it, or the
                regex is invalid.
        """
        given: object = converter  # NOTE: callers may be untyped
        if not (isinstance(given, type) and issubclass(given, Converter)):
            raise TypeError(f"converter must be a Converter subclass, got {converter!r}")
        if not name.isidentifier():
            raise RoutingError(f"converter name {name!r} must be a Python identifier")
        if name in self._used_converters:
            raise RoutingError(
                f"converter {name!r} is already used by a rule; register converters first"
            )
        try:
            compiled = re.compile(converter.regex)
        except re.error as exc:
            raise RoutingError(f"converter {name!r} has an invalid regex: {exc}") from exc
        if compiled.groups:
            raise RoutingError(
                f"converter {name!r} regex must not contain capturing groups; use (?:...)"
            )
        self._converter_types[name] = converter
        self._converters.pop(name, None)

    def _converter(self, rule: str, placeholder: Placeholder) -> Converter:
        name = placeholder.converter
        if name not in self._converter_types:
            known = ", ".join(sorted(self._converter_types))
            raise RoutingError(
                f"Route rule {rule!r} uses unknown converter {name!r} at position "
                f"{placeholder.position}; known converters: {known} (or call add_converter)"
            )
        converter = self._converters.get(name)
        if converter is None:
            converter = self._converters[name] = self._converter_types[name]()
        self._used_converters.add(name)
        return converter

    def __iter__(self) -> Iterator[RuleEntry[T]]:
        """Iterate over the rule entries in registration order."""
        return iter(self._entries)

    def __len__(self) -> int:
        """Return the number of distinct rules."""
        return len(self._entries)

    # --- registration -------------------------------------------------------------------

    def add(
        self,
        rule: str,
        methods: Collection[str],
        target: T,
        *,
        name: str,
        shared_name: bool = False,
    ) -> None:
        """Register ``target`` for ``methods`` on ``rule`` under the endpoint ``name``.

        Adding the same rule again with other methods merges into one entry.

        Args:
            rule: The rule, e.g. ``/users/<int:user_id>``.
            methods: HTTP method names (a list or set, not a str).
            target: The payload ``match`` hands back, e.g. a compiled endpoint.
            name: The endpoint name used by ``build``.
            shared_name: Let ``name`` own this rule besides the ones it has (the same view
                under several rules); ``build`` picks the rule the values fit.

        Raises:
            TypeError: ``methods`` is a str or ``rule`` is not a str.
            RoutingError: The rule is malformed or conflicts with a registered one, or the
                name is taken by another rule.
        """
        upper = _validate_methods(methods)
        if not name:
            raise RoutingError("an endpoint name must be a non-empty str")
        parsed = parse_rule(rule)
        owners = self._by_name.get(name, [])
        if owners and not shared_name and all(owner.rule != rule for owner in owners):
            raise RoutingError(
                f"endpoint name {name!r} is already used by rule {owners[0].rule!r}; "
                f"choose another name for {rule!r}"
            )
        entry, slot = self._locate(parsed)
        if entry is None:
            entry = self._new_entry(parsed)
        elif entry.rule != rule:
            raise RoutingError(
                f"Route rule {rule!r} conflicts with {entry.rule!r}: they match the same "
                "paths; merge them into one rule or change one"
            )
        overlap = sorted(set(upper) & entry.targets.keys())
        if overlap:
            raise RoutingError(
                f"Route rule {rule!r} already has {', '.join(overlap)} registered; "
                "register each method once"
            )
        self._commit(parsed, entry, slot, upper, target=target, name=name)

    def _commit(
        self,
        parsed: ParsedRule,
        entry: RuleEntry[T],
        slot: _Node | _Tail,
        methods: list[str],
        *,
        target: T,
        name: str,
    ) -> None:
        # NOTE: every check has passed; from here on the router changes.
        if not entry.targets:
            self._entries.append(entry)
            if isinstance(slot, _Tail):
                slot.entry = entry  # type: ignore[assignment]  # T is erased in the trie
            else:
                slot.leaf = entry  # type: ignore[assignment]  # T is erased in the trie
            if parsed.is_static:
                self._static[parsed.rule] = entry
            self._max_split = max(self._max_split, len(parsed.segments) + 1)
        owners = self._by_name.setdefault(name, [])
        if entry not in owners:
            owners.append(entry)
        for method in methods:
            entry.targets[method] = target
            entry.names[method] = name
        allowed = set(entry.targets)
        if self.auto_head and "GET" in allowed:
            allowed.add("HEAD")
        if self.auto_options:
            allowed.add("OPTIONS")
        entry.methods = frozenset(allowed)
        entry.allow = ", ".join(sorted(allowed))

    def _new_entry(self, parsed: ParsedRule) -> RuleEntry[T]:
        converters = {p.name: self._converter(parsed.rule, p) for p in parsed.placeholders}
        names = tuple(p.name for p in parsed.placeholders)
        return RuleEntry(parsed.rule, names, converters, self._plan(parsed))

    def _plan(self, parsed: ParsedRule) -> list[_Step]:
        plan: list[_Step] = []
        for index, segment in enumerate(parsed.segments):
            kind = self._segment_kind(parsed, index)
            if kind == "tail":
                pieces = _join_segments(parsed.segments[index:])
                pattern = self._pattern(parsed.rule, pieces)
                plan.append(_Step(pieces, pattern, None))
                break
            if kind == "static":
                plan.append(_Step(segment, None, str(segment[0])))
            else:
                mixed = self._pattern(parsed.rule, segment) if kind == "mixed" else None
                plan.append(_Step(segment, mixed, None))
        return plan

    def _segment_kind(self, parsed: ParsedRule, index: int) -> str:
        segment = parsed.segments[index]
        spanning = [
            p
            for p in segment
            if isinstance(p, Placeholder) and self._converter(parsed.rule, p).spans_segments
        ]
        if spanning:
            last = parsed.placeholders[-1]
            if spanning[0] is not last:
                raise RoutingError(
                    f"Route rule {parsed.rule!r} has path-like placeholder "
                    f"<{spanning[0].converter}:{spanning[0].name}> at position "
                    f"{spanning[0].position}; it must be the last placeholder, and only one"
                )
            return "tail"
        if len(segment) == 1:
            return "static" if isinstance(segment[0], str) else "single"
        return "mixed"

    def _pattern(self, rule: str, pieces: tuple[Piece, ...]) -> re.Pattern[str]:
        parts: list[str] = []
        last = max(i for i, piece in enumerate(pieces) if isinstance(piece, Placeholder))
        for index, piece in enumerate(pieces):
            if isinstance(piece, str):
                parts.append(re.escape(piece))
            elif index < last:
                # PERF/SECURITY: an atomic group that stops at the first occurrence of the
                # next literal cannot backtrack, which keeps the whole match linear.
                literal = re.escape(str(pieces[index + 1]))
                parts.append(f"(?>((?:(?!{literal})[^/])+))")
            else:
                parts.append(f"((?:{self._converter(rule, piece).regex}))")
        return re.compile("".join(parts))

    def _locate(self, parsed: ParsedRule) -> tuple[RuleEntry[T] | None, _Node | _Tail]:
        node = self._root
        for index, segment in enumerate(parsed.segments):
            kind = self._segment_kind(parsed, index)
            if kind == "static":
                node = node.static.setdefault(str(segment[0]), _Node())
            elif kind == "tail":
                return self._locate_tail(parsed, node, _join_segments(parsed.segments[index:]))
            else:
                node = self._edge(parsed.rule, node, segment, kind).node
        return node.leaf, node  # type: ignore[return-value]  # T is erased in the trie

    def _signature(self, rule: str, pieces: tuple[Piece, ...]) -> tuple[object, ...]:
        return tuple(
            piece if isinstance(piece, str) else type(self._converter(rule, piece))
            for piece in pieces
        )

    def _edge(self, rule: str, node: _Node, segment: tuple[Piece, ...], kind: str) -> _Edge:
        key = self._signature(rule, segment)
        edge = node.edges.get(key)
        if edge is not None:
            return edge
        converters = [self._converter(rule, p) for p in segment if isinstance(p, Placeholder)]
        if kind == "single":
            edge = _Edge(converters, None)
            edge.sort_key = (converters[0].priority, 0, _describe(key))
        else:
            edge = _Edge(converters, self._pattern(rule, segment))
            edge.sort_key = (_MIXED_PRIORITY, -_literal_length(segment), _describe(key))
        # NOTE: the edge joins the trie now even if the add fails later; an empty edge
        # never matches (its node has no leaf), so that is harmless.
        node.edges[key] = edge
        node.dynamic = tuple(sorted(node.edges.values(), key=lambda e: e.sort_key))
        node.is_plain = False
        return edge

    def _locate_tail(
        self, parsed: ParsedRule, node: _Node, pieces: tuple[Piece, ...]
    ) -> tuple[RuleEntry[T] | None, _Tail]:
        key = self._signature(parsed.rule, pieces)
        tail = node.tails.get(key)
        if tail is None:
            converters = [
                self._converter(parsed.rule, p) for p in pieces if isinstance(p, Placeholder)
            ]
            tail = _Tail(converters, self._pattern(parsed.rule, pieces))
            tail.sort_key = (-_literal_length(pieces), _describe(key))
            node.tails[key] = tail
            node.tail_list = tuple(sorted(node.tails.values(), key=lambda t: t.sort_key))
            node.is_plain = False
        return tail.entry, tail  # type: ignore[return-value]  # T is erased in the trie

    # --- matching -----------------------------------------------------------------------

    def match(self, path: str) -> tuple[RuleEntry[T], dict[str, object]] | None:
        """Find the rule for a percent-decoded request path.

        Args:
            path: The ASGI ``path`` (already percent-decoded).

        Returns:
            The entry and its converted parameters, or None when nothing matches
            (whatever the path holds; this never raises).
        """
        entry = self._static.get(path)
        if entry is not None:
            return entry, {}
        if not path or path[0] != "/":
            return None
        parts = path.split("/", self._max_split)
        values: list[object] = []
        found = _walk(self._root, parts, 1, len(parts), values)
        if found is None:
            return None
        # PERF: dict(zip(...)) costs several times a one-item dict display.
        only = found._only_param
        if only is not None:
            return found, {only: values[0]}  # type: ignore[return-value]  # T is erased in the trie
        params = dict(zip(found.param_names, values))  # noqa: B905 - equal lengths by design
        return found, params  # type: ignore[return-value]  # T is erased in the trie

    def targets_named(self, name: str) -> list[T]:
        """Every target registered under the endpoint ``name``."""
        return [t for entry in self._by_name.get(name, []) for t in entry.targets.values()]

    # --- building -----------------------------------------------------------------------

    def build(self, name: str, values: Mapping[str, object] | None = None) -> str:
        """Build the URL path (and query string) of the endpoint ``name``.

        Args:
            name: The endpoint name given to ``add``.
            values: Placeholder values; the others become the query string (None values
                are left out, lists and tuples repeat their key).

        Returns:
            The percent-encoded path, with ``?query`` when extra values were given.

        Raises:
            BuildError: The name is unknown, a value is missing, or a value cannot be
                rendered so that the URL matches the rule again.
        """
        owners = self._by_name.get(name)
        if not owners:
            known = ", ".join(sorted(self._by_name)) or "none registered"
            raise BuildError(f"no endpoint named {name!r}; known endpoints: {known}")
        given = dict(values) if values else {}
        entry = owners[0]
        if len(owners) > 1:
            # As Werkzeug: the rule using the most of the given values, first registered first.
            fits = [e for e in owners if all(p in given for p in e.param_names)]
            if fits:
                entry = max(fits, key=lambda e: len(e.param_names))
        missing = [p for p in entry.param_names if p not in given]
        if missing:
            raise BuildError(
                f"endpoint {name!r} ({entry.rule}) needs values for {', '.join(missing)}; "
                f"it takes {', '.join(entry.param_names)}"
            )
        texts = [_render_step(entry, step, given) for step in entry._plan]
        path = "/" + "/".join(texts)
        try:
            url = quote(path, safe=_SAFE)
            query = _query(given, entry.param_names)
        except UnicodeEncodeError as exc:
            raise BuildError(f"a value for {name!r} is not valid text: {exc}") from exc
        if url.startswith("//"):
            raise BuildError(f"building {name!r} gave {url!r}, which reads as a host name")
        return f"{url}?{query}" if query else url


def _join_segments(segments: tuple[tuple[Piece, ...], ...]) -> tuple[Piece, ...]:
    pieces: list[Piece] = []
    for index, segment in enumerate(segments):
        for piece in (("/",) if index else ()) + segment:
            if isinstance(piece, str) and pieces and isinstance(pieces[-1], str):
                pieces[-1] += piece
            elif piece != "":
                pieces.append(piece)
    return tuple(pieces)


def _describe(key: tuple[object, ...]) -> str:
    return "".join(
        item if isinstance(item, str) else f"<{getattr(item, '__qualname__', item)}>"
        for item in key
    )


def _walk(  # noqa: C901, PLR0912 - PERF: the hot loop stays in one frame
    node: _Node, parts: list[str], index: int, count: int, values: list[object]
) -> RuleEntry[object] | None:
    # PERF: the hot path. Static child first, then dynamic edges in precedence order, then
    # path-like tails; a failure deeper down pops the values and tries the next option.
    # Nodes without dynamic children are followed in a loop: nothing to backtrack to.
    while node.is_plain:
        if index == count:
            return node.leaf
        child = node.static.get(parts[index])
        if child is None:
            return None
        node = child
        index += 1
    if index == count:
        return node.leaf
    segment = parts[index]
    child = node.static.get(segment)
    if child is not None:
        found = _walk(child, parts, index + 1, count, values)
        if found is not None:
            return found
    mark = len(values)
    for edge in node.dynamic:
        if edge.pattern is None:
            check = edge.check
            if check is not None and check.fullmatch(segment) is None:
                continue
            try:
                values.append(edge.to_python(segment))
            except ValueError:
                continue
        elif not _convert_groups(edge.pattern, edge.checks, edge.converters, segment, values):
            continue
        # PERF: a placeholder in the last segment needs no further call.
        if index + 1 == count:
            found = edge.node.leaf
        else:
            found = _walk(edge.node, parts, index + 1, count, values)
        if found is not None:
            return found
        del values[mark:]
    if node.tail_list:
        return _match_tail(node.tail_list, "/".join(parts[index:]), values)
    return None


def _match_tail(
    tails: tuple[_Tail, ...], rest: str, values: list[object]
) -> RuleEntry[object] | None:
    for tail in tails:
        if tail.entry is not None and _convert_groups(
            tail.pattern, tail.checks, tail.converters, rest, values
        ):
            return tail.entry
    return None


def _convert_groups(
    pattern: re.Pattern[str] | None,
    checks: tuple[re.Pattern[str] | None, ...],
    converters: tuple[Converter, ...],
    text: str,
    values: list[object],
) -> bool:
    found = pattern.fullmatch(text) if pattern is not None else None
    if found is None:
        return False
    mark = len(values)
    for group, check, converter in zip(found.groups(), checks, converters, strict=True):
        if check is not None and check.fullmatch(group) is None:
            del values[mark:]
            return False
        try:
            values.append(converter.to_python(group))
        except ValueError:
            del values[mark:]
            return False
    return True


def _render_step(entry: RuleEntry[T], step: _Step, given: Mapping[str, object]) -> str:
    if step.literal is not None:
        return step.literal
    texts: list[str] = []
    rendered: list[str] = []
    for piece in step.pieces:
        if isinstance(piece, str):
            texts.append(piece)
        else:
            text = _render_value(entry, piece.name, given[piece.name])
            texts.append(text)
            rendered.append(text)
    result = "".join(texts)
    if step.pattern is not None:
        found = step.pattern.fullmatch(result)
        if found is None or list(found.groups()) != rendered:
            raise BuildError(
                f"values {rendered!r} for {entry.rule!r} would not match the rule again; "
                "a value must not contain the literal text that follows it"
            )
    if not {".", ".."}.isdisjoint(result.split("/")):
        raise BuildError(f"a value for {entry.rule!r} makes a '.' or '..' segment")
    return result


def _render_value(entry: RuleEntry[T], name: str, value: object) -> str:
    converter = entry.converters[name]
    try:
        text = converter.to_url(value)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"cannot use {value!r} for <{name}> in {entry.rule!r}: {exc}") from exc
    if "\\" in text:
        raise BuildError(f"the value for <{name}> in {entry.rule!r} contains a backslash")
    if not converter.spans_segments and "/" in text:
        raise BuildError(f"the value for <{name}> in {entry.rule!r} contains '/'")
    if re.fullmatch(converter.regex, text) is None:
        raise BuildError(f"{text!r} does not match <{name}> ({converter.regex}) in {entry.rule!r}")
    try:
        converter.to_python(text)
    except ValueError as exc:
        raise BuildError(f"{text!r} for <{name}> in {entry.rule!r} does not round-trip") from exc
    return text


def _query(given: Mapping[str, object], used: tuple[str, ...]) -> str:
    pairs: list[tuple[str, object]] = []
    for key, value in given.items():
        if key in used or value is None:
            continue
        if isinstance(value, list | tuple):
            pairs.extend((key, item) for item in value if item is not None)
        else:
            pairs.append((key, value))
    return urlencode(pairs)
