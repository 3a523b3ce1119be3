"""Bearer tokens: the ``Authorization`` header parser, a token backend and HMAC-signed JWTs.

`bearer_token_backend` wraps a ``validate_token(token) -> User | None`` function into an auth
backend. `jwt_backend` and `encode_jwt` use PyJWT (the ``jwt`` extra, imported on first use)
with HMAC keys of at least 32 bytes: ``alg: none`` and any algorithm outside the configured
HMAC list are refused (no algorithm confusion with public keys), and ``aud``, ``exp``, ``iat``,
``iss`` and ``sub`` are required. Secrets that are PEM, SSH or JWK keys are refused. Scopes
travel as one space-separated string of RFC 6749 scope tokens (a JSON list is accepted too).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from flasgo.concurrency import is_async_callable
from flasgo.exceptions import ConfigurationError
from flasgo.security.auth import AuthResult, User, is_scope_token

if TYPE_CHECKING:
    from types import ModuleType

    from flasgo.request import Request

__all__ = ["bearer_token_backend", "encode_jwt", "extract_bearer_token", "jwt_backend"]

MIN_SECRET_BYTES: Final = 32
# RFC 7518 §3.2: the key is at least as long as the hash output.
_HMAC_ALGORITHMS: Final = {"HS256": 32, "HS384": 48, "HS512": 64}
_REQUIRED_CLAIMS: Final = ("aud", "exp", "iat", "iss", "sub")
# RFC 9110 §11.4 token68 credentials, and the auth-scheme token.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_SCHEME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

ValidateToken = Callable[[str], "User | AuthResult | Awaitable[User | AuthResult | None] | None"]


def extract_bearer_token(header: str | None, *, scheme: str = "Bearer") -> str | None:
    """The credentials of an ``Authorization: <scheme> <token>`` header, or None.

    The scheme is compared case-insensitively (RFC 9110 §11.1); the token must be a single
    token68 value (no spaces, no commas).
    """
    if not header:
        return None
    given, _, token = header.strip().partition(" ")
    token = token.strip(" ")
    if given.lower() != scheme.lower() or not _TOKEN68.fullmatch(token):
        return None
    return token


def bearer_token_backend(
    validate_token: ValidateToken, *, scheme: str = "Bearer"
) -> Callable[[Request], Any]:
    """An auth backend for ``Authorization: Bearer <token>`` headers.

    Args:
        validate_token: Returns the `User` for a token, or None when it is not valid; sync
            (run in the thread pool) or async.
        scheme: The auth scheme, also sent as the 401's ``WWW-Authenticate`` challenge.
    """
    _check_scheme(scheme)
    if is_async_callable(validate_token):

        async def authenticate_async(request: Request) -> AuthResult:
            token = extract_bearer_token(request.headers.get("authorization"), scheme=scheme)
            if token is None:
                return AuthResult(None, scheme)
            return _result(await validate_token(token), scheme)  # type: ignore[misc]  # NOTE: async by the check above

        return authenticate_async

    def authenticate(request: Request) -> AuthResult:
        token = extract_bearer_token(request.headers.get("authorization"), scheme=scheme)
        if token is None:
            return AuthResult(None, scheme)
        return _result(validate_token(token), scheme)

    return authenticate


def _result(found: object, scheme: str) -> AuthResult:
    if isinstance(found, AuthResult):
        return found
    if found is not None and not isinstance(found, User):
        raise TypeError(f"validate_token must return a User or None, got {type(found).__name__}")
    return AuthResult(found, scheme)


def _check_scheme(scheme: str) -> None:
    if not _SCHEME.fullmatch(str(scheme)):
        raise ConfigurationError(f"Auth scheme {scheme!r} must be an HTTP token, e.g. 'Bearer'.")


# -- JWT -------------------------------------------------------------------------------------


def _pyjwt() -> ModuleType:
    try:
        import jwt
    except ImportError:  # pragma: no cover - the test environment installs the extra
        raise ImportError(
            "JWT support needs PyJWT, which is not installed; pip install 'flasgo[jwt]'"
        ) from None
    return jwt


def _key(secret: str | bytes, minimum: int = MIN_SECRET_BYTES) -> bytes:
    key: object = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not isinstance(key, bytes) or len(key) < minimum:
        raise ConfigurationError(
            f"The JWT secret must be at least {minimum} bytes for the chosen algorithms "
            "(RFC 7518 §3.2); generate one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(64))'."
        )
    if _is_public_key(key):
        # SECURITY: algorithm confusion: a public key used as an HMAC secret lets anyone who
        # has the (public) key sign tokens.
        raise ConfigurationError(
            "The JWT secret looks like a public or private key (PEM, SSH or JWK), not a shared "
            "HMAC secret; Flasgo's JWTs are HMAC only. Use a random secret, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(64))'."
        )
    return key


_SSH_PREFIXES: Final = (b"ssh-", b"ecdsa-sha2-", b"sk-ssh-", b"sk-ecdsa-")


def _is_public_key(key: bytes) -> bool:
    text = key.strip()
    if b"-----BEGIN " in text or text.startswith(_SSH_PREFIXES):
        return True
    if text.startswith(b"{"):
        try:
            document = json.loads(text)
        except ValueError:
            return False
        return isinstance(document, dict) and ("kty" in document or "keys" in document)
    return False


# RFC 7519 §4.1: registered claims have their own meaning; none of them can carry scopes.
_REGISTERED_CLAIMS: Final = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti"})


def _check_scope_claim(scope_claim: str) -> None:
    if not _is_text(scope_claim) or scope_claim in _REGISTERED_CLAIMS:
        raise ConfigurationError(
            f"scope_claim {scope_claim!r} must be a non-empty claim name other than the "
            f"registered ones ({', '.join(sorted(_REGISTERED_CLAIMS))}); 'scope' is usual."
        )


def _algorithms(algorithms: Iterable[str]) -> list[str]:
    chosen = list(algorithms) if not isinstance(algorithms, str) else [algorithms]
    unknown = [a for a in chosen if a not in _HMAC_ALGORITHMS]
    if not chosen or unknown:
        raise ConfigurationError(
            f"JWT algorithms must be HMAC ones ({', '.join(sorted(_HMAC_ALGORITHMS))}) with a "
            f"shared secret; got {unknown or chosen!r}. 'none' and public-key algorithms "
            "are refused."
        )
    return chosen


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _scope_text(scopes: Iterable[str]) -> str:
    values = [scopes] if isinstance(scopes, str) else list(scopes)
    for scope in values:
        if not is_scope_token(scope):
            raise ValueError(f"{scope!r} is not an RFC 6749 scope token.")
    return " ".join(dict.fromkeys(values))


def encode_jwt(
    subject: str,
    secret: str | bytes,
    *,
    issuer: str,
    audience: str,
    expires_in: int = 900,
    scopes: Iterable[str] = (),
    scope_claim: str = "scope",
    additional_claims: Mapping[str, Any] | None = None,
) -> str:
    """Issue an HS256 JWT for `subject`.

    Args:
        subject: The user id (``sub``).
        secret: The shared HMAC key, at least 32 bytes.
        issuer: ``iss``; `jwt_backend` checks it.
        audience: ``aud``; `jwt_backend` checks it.
        expires_in: Seconds until ``exp`` (positive).
        scopes: Scope tokens, joined with spaces into `scope_claim`.
        scope_claim: The claim holding the scopes.
        additional_claims: Other claims; they cannot replace the ones above.

    Raises:
        ConfigurationError: The secret is too short or a key, or `scope_claim` is a
            registered claim.
        ValueError: An empty subject, a non-positive lifetime, a bad scope or a claim clash.
    """
    jwt = _pyjwt()
    key = _key(secret)
    _check_scope_claim(scope_claim)
    if not _is_text(subject):
        raise ValueError("The JWT subject must be a non-empty string.")
    if not _is_count(expires_in) or expires_in <= 0:
        raise ValueError("expires_in must be a positive number of seconds.")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + expires_in,
    }
    scope_text = _scope_text(scopes)
    if scope_text:
        claims[scope_claim] = scope_text
    for name, value in (additional_claims or {}).items():
        if name in claims or name in _REQUIRED_CLAIMS or name == scope_claim:
            raise ValueError(f"additional_claims cannot set {name!r}.")
        claims[name] = value
    token: str = jwt.encode(claims, key, algorithm="HS256")
    return token


def jwt_backend(
    secret: str | bytes,
    *,
    issuer: str,
    audience: str,
    leeway: int = 0,
    scope_claim: str = "scope",
    algorithms: Iterable[str] = ("HS256",),
) -> Callable[[Request], Awaitable[AuthResult]]:
    """An auth backend for ``Authorization: Bearer <JWT>`` headers, signed with `secret`.

    A valid token becomes ``User(id=sub, is_authenticated=True, scopes=..., data=claims)``;
    a missing, malformed, expired, wrongly signed or wrongly addressed one is anonymous
    (401 with ``WWW-Authenticate: Bearer``).

    Raises:
        ConfigurationError: The secret is shorter than 32 bytes or is a PEM/SSH/JWK key, an
            algorithm is not HMAC, or `scope_claim` is a registered claim (``sub``, ``exp``...).
        ImportError: PyJWT is not installed (``pip install 'flasgo[jwt]'``).
    """
    jwt = _pyjwt()
    allowed = _algorithms(algorithms)
    key = _key(secret, max(_HMAC_ALGORITHMS[name] for name in allowed))
    _check_scope_claim(scope_claim)
    if not _is_count(leeway) or leeway < 0:
        raise ConfigurationError("JWT leeway must be a non-negative number of seconds.")
    options = {"require": list(_REQUIRED_CLAIMS)}

    # PERF: an HMAC check and a JSON decode, no I/O: on the loop, no thread hop.
    async def authenticate(request: Request) -> AuthResult:
        token = extract_bearer_token(request.headers.get("authorization"))
        if token is None:
            return AuthResult(None, "Bearer")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=allowed,
                audience=audience,
                issuer=issuer,
                leeway=leeway,
                options=options,
            )
        except jwt.PyJWTError:
            return AuthResult(None, "Bearer")
        user = _user(claims, scope_claim)
        return AuthResult(user, "Bearer")

    return authenticate


def _user(claims: dict[str, Any], scope_claim: str) -> User | None:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        return None
    raw = claims.get(scope_claim, "")
    # RFC 8693 §4.2 / RFC 9068: a space-separated string; many issuers send a JSON list.
    scopes: list[object]
    if isinstance(raw, str):
        scopes = list(raw.split())
    elif isinstance(raw, list):
        scopes = raw
    else:
        return None
    # SECURITY: a token with malformed scopes is not trusted at all.
    if not all(isinstance(scope, str) and is_scope_token(scope) for scope in scopes):
        return None
    return User(
        id=subject,
        is_authenticated=True,
        scopes=frozenset(str(scope) for scope in scopes),
        data=claims,
    )
