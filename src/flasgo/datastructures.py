"""Read-only request data structures: `MultiDict` for fields and `Headers` for ASGI headers.

Both are built for the hot path: construction is one or two C-level dict operations (or
nothing at all for `Headers`), and anything that costs a Python-level loop happens only when
a caller asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, Sequence
from typing import Literal, TypeVar, overload

__all__ = ["Headers", "MultiDict"]

_T = TypeVar("_T")
_R = TypeVar("_R")


def _group(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        bucket = grouped.get(key)
        if bucket is None:
            grouped[key] = [value]
        else:
            bucket.append(value)
    return grouped


class MultiDict(Mapping[str, str]):
    """An immutable mapping where each key may hold several values, in arrival order.

    Mapping access (``m[key]``, iteration, ``len``) sees the first value of each key, which
    is what handlers want almost always; `getlist` and ``items(multi=True)`` see them all.

    Args:
        pairs: ``(key, value)`` pairs in order, or a mapping of key to single value.
    """

    __slots__ = ("_first", "_lists", "_pairs")

    _first: dict[str, str]
    _lists: dict[str, list[str]] | None
    _pairs: list[tuple[str, str]]

    def __init__(self, pairs: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        if isinstance(pairs, MultiDict):
            items = list(pairs._pairs)
        elif isinstance(pairs, Mapping):
            items = list(pairs.items())
        else:
            items = list(pairs)
        self._setup(items)

    @classmethod
    def _from_list(cls, pairs: list[tuple[str, str]]) -> MultiDict:
        # PERF: parsers hand over a fresh list; skip the type checks, the copy and a call.
        self = object.__new__(cls)
        first = dict(pairs)
        if len(first) != len(pairs):
            first.update(reversed(pairs))
        self._first = first
        self._pairs = pairs
        self._lists = None
        return self

    def _setup(self, pairs: list[tuple[str, str]]) -> None:
        # PERF: dict() keeps the first position of each key but the last value; when there
        # are duplicates one more C-level pass over the reversed pairs restores first values.
        first = dict(pairs)
        if len(first) != len(pairs):
            first.update(reversed(pairs))
        self._first = first
        self._pairs = pairs
        self._lists = None

    def _grouped(self) -> dict[str, list[str]]:
        lists = self._lists
        if lists is None:
            lists = self._lists = _group(self._pairs)
        return lists

    def __getitem__(self, key: str) -> str:
        return self._first[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def __contains__(self, key: object) -> bool:
        return key in self._first

    @overload
    def get(self, key: str, default: None = None, type: None = None) -> str | None: ...
    @overload
    def get(self, key: str, default: _T, type: None = None) -> str | _T: ...
    @overload
    def get(self, key: str, default: None = None, *, type: Callable[[str], _R]) -> _R | None: ...
    @overload
    def get(self, key: str, default: _T, type: Callable[[str], _R]) -> _R | _T: ...

    def get(
        self, key: str, default: object = None, type: Callable[[str], object] | None = None
    ) -> object:
        """Return the first value of `key`, optionally converted, or `default`.

        Args:
            key: The field name.
            default: Returned when the key is missing or the conversion fails.
            type: A callable applied to the value; a `ValueError` from it yields `default`.

        Returns:
            The (converted) first value, or `default`.
        """
        try:
            value = self._first[key]
        except KeyError:
            return default
        if type is None:
            return value
        try:
            return type(value)
        except ValueError:
            return default

    def getlist(self, key: str) -> list[str]:
        """Return every value of `key` in arrival order (an empty list when missing)."""
        if self._lists is None and len(self._first) == len(self._pairs):
            # PERF: no duplicates, so the first value is the only one.
            value = self._first.get(key)
            return [] if value is None else [value]
        return list(self._grouped().get(key, ()))

    def keys(self) -> KeysView[str]:
        """Return the distinct keys in first-arrival order."""
        return self._first.keys()

    @overload
    def items(self, multi: Literal[False] = False) -> ItemsView[str, str]: ...
    @overload
    def items(self, multi: Literal[True]) -> list[tuple[str, str]]: ...
    @overload
    def items(self, multi: bool) -> ItemsView[str, str] | list[tuple[str, str]]: ...

    def items(self, multi: bool = False) -> ItemsView[str, str] | list[tuple[str, str]]:
        """Return ``(key, first value)`` pairs, or with `multi` every pair in arrival order."""
        if multi:
            return list(self._pairs)
        return self._first.items()

    def to_dict(self, flat: bool = True) -> dict[str, str] | dict[str, list[str]]:
        """Return a plain dict of first values, or with ``flat=False`` of value lists."""
        if flat:
            return dict(self._first)
        return {key: list(values) for key, values in self._grouped().items()}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return self._first == other._first and self._grouped() == other._grouped()
        if isinstance(other, Mapping):
            return self._first == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # NOTE: equality is by content, like dict

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._pairs!r})"


class Headers:
    """Case-insensitive, read-only view of an ASGI header list.

    Construction stores the list and nothing else; the first lookup decodes every header once
    (latin-1) into a dict of lower-case name to values, which later lookups reuse.

    Args:
        raw: The ASGI ``headers`` list of ``(name, value)`` byte pairs.
    """

    __slots__ = ("_index", "raw")

    def __init__(self, raw: Sequence[tuple[bytes, bytes]] | None = None) -> None:
        self.raw: Sequence[tuple[bytes, bytes]] = raw if raw is not None else []
        self._index: dict[str, list[str]] | None = None

    def _build(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for name, value in self.raw:
            # NOTE: ASGI promises lower-case names; lower() keeps other producers honest.
            key = name.decode("latin-1").lower()
            bucket = index.get(key)
            if bucket is None:
                index[key] = [value.decode("latin-1")]
            else:
                # SECURITY: repeated headers append to a list (linear), never concatenate.
                bucket.append(value.decode("latin-1"))
        self._index = index
        return index

    def _get_index(self) -> dict[str, list[str]]:
        index = self._index
        return self._build() if index is None else index

    def __getitem__(self, name: str) -> str:
        return self._get_index()[name.lower()][0]

    @overload
    def get(self, name: str, default: None = None) -> str | None: ...
    @overload
    def get(self, name: str, default: _T) -> str | _T: ...

    def get(self, name: str, default: object = None) -> object:
        """Return the first value of header `name` (any case), or `default`."""
        values = self._get_index().get(name.lower())
        return default if values is None else values[0]

    def getlist(self, name: str) -> list[str]:
        """Return every value of header `name` (any case) in arrival order."""
        return list(self._get_index().get(name.lower(), ()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._get_index()

    def __iter__(self) -> Iterator[str]:
        return iter(self._get_index())

    def __len__(self) -> int:
        return len(self._get_index())

    def keys(self) -> KeysView[str]:
        """Return the distinct lower-case header names in first-arrival order."""
        return self._get_index().keys()

    def items(self) -> list[tuple[str, str]]:
        """Return every ``(lower-case name, value)`` pair in arrival order, duplicates kept."""
        return [
            (name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in self.raw
        ]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.items()!r})"
