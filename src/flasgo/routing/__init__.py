"""URL routing: rule parsing, converters, the compiled matcher and URL building.

The app registers rules on a ``Router``; a request's path goes through ``Router.match`` once,
and ``Router.build`` turns an endpoint name and values back into a URL.
"""

from flasgo.routing.converters import (
    DEFAULT_CONVERTERS,
    Converter,
    FloatConverter,
    IntConverter,
    PathConverter,
    StringConverter,
    UUIDConverter,
)
from flasgo.routing.router import BuildError, Router, RuleEntry
from flasgo.routing.rules import ParsedRule, Placeholder, parse_rule

__all__ = [
    "DEFAULT_CONVERTERS",
    "BuildError",
    "Converter",
    "FloatConverter",
    "IntConverter",
    "ParsedRule",
    "PathConverter",
    "Placeholder",
    "Router",
    "RuleEntry",
    "StringConverter",
    "UUIDConverter",
    "parse_rule",
]
