"""`User` and `AuthResult`: who made a request, as an auth backend describes it.

Plain values with no behaviour beyond validation; the auth feature (`flasgo.security.auth`)
finds them, `Request.user` carries them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

__all__ = ["ANONYMOUS", "AuthResult", "User"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class User:
    """Who made the request.

    Attributes:
        id: The user's id (``sub`` of a JWT, the id given to `login`), None when anonymous.
        is_authenticated: Whether a backend vouched for this user.
        scopes: The OAuth-style scopes granted (checked by `HasScope`).
        data: Anything else the backend knows (JWT claims, a profile); read-only.
    """

    id: str | int | None = None
    is_authenticated: bool = False
    scopes: frozenset[str] = frozenset()
    data: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        scopes: object = self.scopes
        if isinstance(scopes, str):
            raise TypeError("User scopes must be a set of scope names, not one string.")
        if not isinstance(scopes, frozenset):
            object.__setattr__(self, "scopes", frozenset(self.scopes))
        if not isinstance(self.data, MappingProxyType):
            object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    @classmethod
    def anonymous(cls) -> User:
        """The user of a request nobody vouched for."""
        return ANONYMOUS


ANONYMOUS: Final = User()
"""The user of a request nobody vouched for."""


@dataclass(frozen=True, slots=True)
class AuthResult:
    """What a backend returns when it has more to say than the user.

    Attributes:
        user: The user, or None when the request carries no valid credentials.
        challenge: The ``WWW-Authenticate`` value sent with a 401 (e.g. ``"Bearer"``).
    """

    user: User | None = None
    challenge: str | None = None

    def __post_init__(self) -> None:
        if self.user is not None and not isinstance(self.user, User):
            raise TypeError(f"AuthResult.user must be a User or None, got {self.user!r}")
        # SECURITY: the challenge becomes a header value; no CR/LF or other controls.
        challenge: object = self.challenge
        if challenge is not None and (
            not isinstance(challenge, str) or not challenge or _CONTROL.search(challenge)
        ):
            raise ValueError("AuthResult.challenge must be a non-empty header value.")
