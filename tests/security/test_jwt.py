"""The JWT backend and `encode_jwt` through real requests: valid, expired, misaddressed,
tampered, unsigned and wrongly-signed tokens; secrets, algorithms and scopes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING, Any

import jwt as pyjwt
import pytest

from flasgo import (
    ConfigurationError,
    Flasgo,
    HasScope,
    User,
    current_user,
    encode_jwt,
    jwt_backend,
)

if TYPE_CHECKING:
    from tests.conftest import AppBuilder, AppFactory, RefusalCheck

SECRET = "k" * 32
ISSUER = "https://issuer.example"
AUDIENCE = "flasgo-tests"
UNAUTHORIZED = "Authentication required. Provide valid credentials and retry."


@pytest.fixture(scope="session")
def jwt_app(make_app: AppFactory) -> AppBuilder:
    def build(**options: Any) -> Flasgo:
        app = make_app()
        app.register_auth_backend(
            "jwt", jwt_backend(SECRET, issuer=ISSUER, audience=AUDIENCE, **options)
        )

        @app.get("/me")
        @app.authorize(backend="jwt")
        async def me(user: User) -> dict[str, Any]:
            return {"id": user.id, "scopes": sorted(user.scopes), "same": current_user == user}

        @app.get("/admin")
        @app.authorize(HasScope("admin"), backend="jwt")
        def admin() -> str:
            return "admin"

        return app

    return build


def get(app: Flasgo, token: str, path: str = "/me") -> Any:
    return app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})


def token(**overrides: Any) -> str:
    return encode_jwt("alice", SECRET, issuer=ISSUER, audience=AUDIENCE, **overrides)


def raw_token(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    encoded: str = pyjwt.encode(claims, key, algorithm=algorithm)
    return encoded


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def test_a_valid_token_is_the_user(jwt_app: AppBuilder, refusal: RefusalCheck) -> None:
    app = jwt_app()
    response = get(app, token(scopes=["read", "admin"], additional_claims={"name": "Alice"}))

    assert response.status_code == 200
    assert response.json() == {"id": "alice", "scopes": ["admin", "read"], "same": True}
    assert get(app, token(scopes=["admin"]), "/admin").text == "admin"
    assert refusal(get(app, token(scopes=["read"]), "/admin")) == (403, "permission-denied")


def test_claims_and_scopes_in_the_issued_token() -> None:
    issued = token(scopes=["read", "write", "read"], expires_in=60)
    decoded = pyjwt.decode(issued, SECRET, algorithms=["HS256"], audience=AUDIENCE)

    assert decoded["scope"] == "read write"
    assert decoded["exp"] - decoded["iat"] == 60
    assert {"sub", "iss", "aud", "iat", "exp"} <= decoded.keys()
    assert pyjwt.get_unverified_header(issued)["alg"] == "HS256"


def test_a_custom_scope_claim(jwt_app: AppBuilder, refusal: RefusalCheck) -> None:
    app = jwt_app(scope_claim="scp")
    issued = token(scopes=["admin"], scope_claim="scp")
    assert get(app, issued, "/admin").status_code == 200
    assert refusal(get(app, token(scopes=["admin"]), "/admin")) == (403, "permission-denied")


def test_no_token_is_a_401_with_a_bearer_challenge(
    jwt_app: AppBuilder, refusal: RefusalCheck
) -> None:
    response = jwt_app().test_client().get("/me")

    assert refusal(response) == (401, "permission-denied")
    assert response.text == UNAUTHORIZED
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(claims(exp=int(time.time()) - 10), id="expired"),
        pytest.param(claims(aud="someone-else"), id="wrong-audience"),
        pytest.param(claims(iss="https://evil.example"), id="wrong-issuer"),
        pytest.param(claims(exp=None), id="no-exp"),
        pytest.param(claims(iat=None), id="no-iat"),
        pytest.param(claims(sub=None), id="no-sub"),
        pytest.param(claims(aud=None), id="no-aud"),
        pytest.param(claims(iss=None), id="no-iss"),
        pytest.param(claims(nbf=int(time.time()) + 600), id="not-yet-valid"),
        pytest.param(claims(scope='admin "quoted"'), id="bad-scope-token"),
        pytest.param(claims(scope=["admin", 1]), id="scope-list-with-a-number"),
        pytest.param(claims(scope=["admin root"]), id="scope-list-with-a-space"),
        pytest.param(claims(scope={"admin": True}), id="scope-an-object"),
    ],
)
def test_invalid_claims_are_401(
    jwt_app: AppBuilder, bad: dict[str, Any], refusal: RefusalCheck
) -> None:
    response = get(jwt_app(), raw_token(bad))
    assert refusal(response) == (401, "permission-denied")
    assert response.headers["www-authenticate"] == "Bearer"


def test_leeway_accepts_a_just_expired_token(jwt_app: AppBuilder, refusal: RefusalCheck) -> None:
    just_expired = raw_token(claims(exp=int(time.time()) - 5))
    assert refusal(get(jwt_app(), just_expired)) == (401, "permission-denied")
    assert get(jwt_app(leeway=30), just_expired).status_code == 200


def test_a_wrong_secret_and_a_tampered_payload_are_401(
    jwt_app: AppBuilder, refusal: RefusalCheck
) -> None:
    assert refusal(get(jwt_app(), raw_token(claims(), key="x" * 32))) == (401, "permission-denied")

    header, payload, signature = token().split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["sub"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    assert refusal(get(jwt_app(), f"{header}.{forged}.{signature}")) == (401, "permission-denied")
    assert refusal(get(jwt_app(), "not.a.jwt")) == (401, "permission-denied")


def _unsigned(header: dict[str, Any], body: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(body)}."


def _hs512(body: dict[str, Any], key: str) -> str:
    # Signed by hand: PyJWT warns about a 32-byte key for HS512, which is the point here.
    unsigned = _unsigned({"alg": "HS512", "typ": "JWT"}, body)[:-1]
    mac = hmac.new(key.encode(), unsigned.encode(), hashlib.sha512).digest()
    return f"{unsigned}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_alg_none_is_refused(jwt_app: AppBuilder, refusal: RefusalCheck) -> None:
    for alg in ("none", "None", "NONE"):
        unsigned = _unsigned({"alg": alg, "typ": "JWT"}, claims())
        assert refusal(get(jwt_app(), unsigned)) == (401, "permission-denied")


def test_other_algorithms_than_the_configured_ones_are_refused(
    jwt_app: AppBuilder, refusal: RefusalCheck
) -> None:
    # Algorithm confusion: a valid signature under an algorithm the backend did not choose.
    assert refusal(get(jwt_app(), _hs512(claims(), SECRET))) == (401, "permission-denied")
    strong = Flasgo()
    long_key = "L" * 64
    backend = jwt_backend(long_key, issuer=ISSUER, audience=AUDIENCE, algorithms=["HS512"])
    strong.register_auth_backend("jwt", backend)
    strong.get("/me")(strong.authorize(backend="jwt")(lambda: current_user.id))
    assert get(strong, _hs512(claims(), long_key)).text == "alice"
    assert refusal(get(strong, raw_token(claims(), key=long_key))) == (401, "permission-denied")
    forged = _unsigned({"alg": "RS256", "typ": "JWT"}, claims()) + "c2ln"
    assert refusal(get(jwt_app(), forged)) == (401, "permission-denied")


@pytest.mark.parametrize("algorithms", [("none",), ("RS256",), ("HS256", "ES256"), ()])
def test_only_hmac_algorithms_can_be_configured(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError, match="HMAC"):
        jwt_backend(SECRET, issuer=ISSUER, audience=AUDIENCE, algorithms=algorithms)


@pytest.mark.parametrize("secret", ["short", b"x" * 31, "é" * 15])
def test_short_secrets_are_refused(secret: str | bytes) -> None:
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        jwt_backend(secret, issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        encode_jwt("alice", secret, issuer=ISSUER, audience=AUDIENCE)


def test_longer_hashes_need_longer_secrets() -> None:
    with pytest.raises(ConfigurationError, match="at least 64 bytes"):
        jwt_backend(SECRET, issuer=ISSUER, audience=AUDIENCE, algorithms=("HS256", "HS512"))


def test_bytes_secrets_work() -> None:
    app = Flasgo()
    app.register_auth_backend("jwt", jwt_backend(b"b" * 32, issuer=ISSUER, audience=AUDIENCE))
    app.get("/me")(app.authorize(backend="jwt")(lambda: current_user.id))
    issued = encode_jwt("bob", b"b" * 32, issuer=ISSUER, audience=AUDIENCE)
    assert get(app, issued).text == "bob"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"subject": ""}, "subject"),
        ({"expires_in": 0}, "expires_in"),
        ({"expires_in": True}, "expires_in"),
        ({"scopes": ["two words"]}, "scope token"),
        ({"scopes": ['quo"te']}, "scope token"),
        ({"additional_claims": {"sub": "mallory"}}, "cannot set 'sub'"),
        ({"additional_claims": {"scope": "admin"}}, "cannot set 'scope'"),
    ],
)
def test_encode_jwt_validates_its_input(options: dict[str, Any], message: str) -> None:
    subject = options.pop("subject", "alice")
    with pytest.raises(ValueError, match=message):
        encode_jwt(subject, SECRET, issuer=ISSUER, audience=AUDIENCE, **options)


def test_a_negative_leeway_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="leeway"):
        jwt_backend(SECRET, issuer=ISSUER, audience=AUDIENCE, leeway=-1)


def test_scopes_as_a_json_list_are_accepted(jwt_app: AppBuilder) -> None:
    app = jwt_app()
    listed = raw_token(claims(scope=["read", "admin"]))
    assert get(app, listed).json()["scopes"] == ["admin", "read"]
    assert get(app, listed, "/admin").text == "admin"


PEM_PUBLIC_KEY = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
    "-----END PUBLIC KEY-----\n"
)


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(PEM_PUBLIC_KEY, id="pem"),
        pytest.param(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm/RAlphM3+hUG6wWfcO5bIUIaqMLa2ywxcOK1wMWbh",
            id="ssh",
        ),
        pytest.param(
            '{"kty":"OKP","crv":"Ed25519","x":"Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE"}',
            id="jwk",
        ),
        pytest.param('{"keys":[{"kty":"oct","k":"' + "a" * 40 + '"}]}', id="jwk-set"),
    ],
)
def test_a_key_is_refused_as_an_hmac_secret(secret: str) -> None:
    with pytest.raises(ConfigurationError, match="looks like a public or private key"):
        jwt_backend(secret, issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ConfigurationError, match="looks like a public or private key"):
        encode_jwt("alice", secret, issuer=ISSUER, audience=AUDIENCE)


@pytest.mark.parametrize("claim", ["sub", "exp", "iss", "aud", "iat", "nbf", "jti", ""])
def test_a_registered_claim_is_refused_as_the_scope_claim(claim: str) -> None:
    with pytest.raises(ConfigurationError, match="scope_claim"):
        jwt_backend(SECRET, issuer=ISSUER, audience=AUDIENCE, scope_claim=claim)
    with pytest.raises(ConfigurationError, match="scope_claim"):
        encode_jwt("alice", SECRET, issuer=ISSUER, audience=AUDIENCE, scope_claim=claim)
