"""The hostile-input catalogue (``shared/spec/security-cases.md`` classes A-P) as tests.

Each class that applies to what Flasgo has today gets at least one request here or elsewhere,
asserting the exact status and that no 500 or traceback comes back. Rows already covered by a
test elsewhere are not repeated; this map says where each class is covered. The same hostile
requests go over a real socket to uvicorn in ``tests/e2e/test_hostile_raw.py``.

Class  Covered by (a test here, or a module under tests/ and its test; rows in brackets)
-----  ------------------------------------------------------------------------------------
A      (multipart/forms) here: test_a_multipart_crlf_preamble_then_truncated,
       test_a_urlencoded_field_flood; http/test_request.py:
       test_malformed_content_length_is_400 (A6),
       test_body_limit_counts_received_bytes_across_chunks (A13, A17, A18);
       primitives/test_querystring.py: test_form_field_limit,
       test_query_hundred_thousand_ampersands (A21); primitives/test_mediatypes.py:
       test_backslash_flood_security_case_a1 (A1, A2); http/test_multipart.py: the multipart rows
       (A3-A5, A7-A16, A19, A20: limits, hostile filenames, CR/LF linearity, fuzzing)
B      (header/cookie/param complexity) test_limits_and_headers.py:
       test_too_many_headers_is_431_at_the_boundary, test_head_bytes_limit_is_431_at_the_boundary
       (B1, B2, B4, B11); primitives/test_mediatypes.py: test_semicolons_in_quotes_security_case_b3;
       primitives/test_cookies.py: test_parse_backslash_flood_is_linear,
       test_parse_five_thousand_invalid_names_silently (B5-B7); http/test_request.py:
       test_hostile_query_and_cookies_never_500, test_deep_and_huge_json_is_400 (B17),
       test_malformed_content_length_is_400 (B18); here:
       test_b_one_byte_chunks_are_read_in_linear_time (B10). Not applicable yet: Range (B8, B9: no
       static files), Accept-Language (B12, B13), validators (B14-B16)
C      (path traversal) here: test_c_traversal_never_reaches_a_handler;
       primitives/routing/test_converters.py: test_path_refuses_dot_segments. Not applicable
       yet: static files, device names, uploads, archives (C4-C7, C9-C13: no staticfiles module)
D      (open redirect) composition/test_app.py:
       test_trailing_slash_redirect_policy_is_308_and_never_scheme_relative (D1-D3); here:
       test_d_redirect_targets_are_never_scheme_relative. Gap: no next= validator yet (D4, D5)
E      (header/log injection) http/test_response.py: test_tuple_headers_cannot_inject (E1); here:
       test_e_reflected_header_injection_never_reaches_the_wire,
       test_e_control_characters_in_the_path_match_no_route (E7); http/test_request.py:
       test_bad_input_is_logged_without_control_characters, test_limits_and_headers.py:
       test_security_events_are_sanitised_and_can_be_disabled (E4, E5); test_outbound.py:
       test_bad_methods_and_headers_are_value_errors (E6); test_ssrf.py (E2 for outbound URLs)
F      (host/proxy headers) test_hosts.py: test_default_allowlist_is_local_hosts_only (F1),
       test_missing_duplicate_or_malformed_host_is_400,
       test_suffix_patterns_match_apex_and_subdomains_only (F3); here:
       test_f_django_bad_host_list_is_400 (F2, F5),
       test_f_underscore_headers_are_not_forwarding_headers (F7); test_proxy.py:
       test_untrusted_peer_cannot_spoof, test_forwarding_headers_are_ignored_by_default (F8, F9).
       Not applicable: F4 (no www redirect), F6 (no debugger)
G      (cookies/signing) primitives/test_cookies.py: test_parse_drops_nameless_cookies,
       test_parse_splits_on_semicolon_only (G1-G3); test_signing.py:
       test_salt_and_key_cannot_be_shifted (G4), test_fallback_keys_verify_but_never_sign (G5);
       here: test_g_junk_session_cookies_are_anonymous (G6). Not applicable yet: G7 (no cache
       store keyed by path)
H      (smuggling/framing) the server's job (uvicorn's h11/httptools): e2e/test_hostile_raw.py
       (H1-H3, H7 and malformed framing as raw bytes)
I      (JSON/body decoding) http/test_request.py: test_deep_and_huge_json_is_400 (I1, I2, I4),
       test_json_body_bad_json_and_wrong_media_type; primitives/test_querystring.py:
       test_query_semicolon_is_not_a_separator (I5); here:
       test_i_invalid_utf8_and_lone_surrogates_are_400 (I6). Not applicable: I3 (no XML)
J      (decompression) here: test_j_compressed_bodies_are_never_inflated (J1; gap: 415 for a
       Content-Encoding is not sent yet, the body is passed on compressed); test_outbound.py:
       test_response_size_is_capped (J2). Not applicable: J3 (no archive helpers)
K      (WebSocket) http/test_websocket.py: test_invalid_json_closes_1007_and_oversized_1009
       (K1, K3); here: test_k_cross_site_websocket_is_refused (K2: foreign and missing Origin
       are 403)
L      (sessions/caches) sessions/test_session.py: test_every_read_marks_accessed_but_not_modified
       (L3), test_existing_cache_control_is_made_private; sessions/test_pipeline.py:
       test_reading_the_session_makes_the_response_private_and_vary_cookie (L1, L2);
       sessions/test_server_sessions.py: test_login_invalidates_the_planted_id (L5),
       test_nothing_is_stored_until_the_first_write, test_unknown_ids_are_never_adopted (L6). Not
       applicable: L4 (no response cache)
M      (timing/enumeration) test_signing.py and security/csrf.py compare with hmac.compare_digest
       (M4); test_auth.py (auth backends, being added). Not applicable yet: password login (M1-M3)
N      (CSRF) http/test_request.py: test_json_body_bad_json_and_wrong_media_type (N1:
       text/plain JSON is 415); N2-N8 belong to security/csrf.py, being added with its own tests
O      (SSRF) test_ssrf.py (O1-O9, O11, O12); test_outbound.py:
       test_a_redirect_into_the_internal_network_is_refused (O10)
P      (misc) composition/openapi/test_docs_ui.py: test_docs_are_off_by_default (P2); here:
       test_p_trace_and_unknown_methods_are_405 (P3, P4); test_limits_and_headers.py:
       test_url_length_limit_is_414_at_the_boundary (P5). Not applicable: P1 (no response cache)
"""

from __future__ import annotations

import asyncio
import gzip
from typing import TYPE_CHECKING, Any

import pytest

from flasgo import Flasgo, RedirectResponse, request, session
from flasgo.response import Response
from flasgo.testing import TestClient, WebSocketDenied
from tests.asgi import call, http_scope
from tests.linear import LIMIT, linear_ratio

if TYPE_CHECKING:
    from tests.conftest import AppBuilder, AppFactory, RefusalCheck

KEY = "Zq3_vT9xLw2Ry8Pn4Hc6Bd1Mf5Gj7Ks0aXeWuYoIiUtRrEeQqPpLlKkJjHhGgFf"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}
ENDED_EARLY = "The multipart/form-data body ended early."
ORIGIN_REFUSED = b"WebSocket origin not allowed."
ENCODED_BODY = (
    "The request body has a Content-Encoding, which this app does not decode; send it unencoded."
)
BAD_JSON = "Malformed JSON request body. Send valid JSON and set Content-Type: application/json."
SERVER_ERROR = "Internal Server Error. Check the application logs for the original failure."


def no_route(path: str) -> str:
    return f"No route matches {path!r}. Check the URL or register a handler for this path."


@pytest.fixture(scope="session")
def hostile_app(make_app: AppFactory) -> AppBuilder:
    def build(**settings: Any) -> Flasgo:
        # NOTE: CSRF is off here so the parsers are what answers; CSRF has its own tests.
        app = make_app(**{"SECRET_KEY": KEY, "CSRF_ENABLED": False, **settings})

        @app.route("/echo", methods=["GET", "POST"])
        async def echo() -> dict[str, int]:
            return {"size": len(await request.body())}

        @app.post("/json")
        async def json_body() -> dict[str, Any]:
            return {"json": await request.json()}

        @app.post("/form")
        async def form() -> dict[str, Any]:
            return (await request.form()).to_dict(flat=False)

        @app.get("/files/<path:name>")
        def files(name: str) -> str:
            return f"file {name}"

        @app.get("/admin")
        def admin() -> str:
            return "admin"

        @app.get("/reflect")
        def reflect() -> Response:
            return Response("ok", headers={"x-name": request.args.get("name", "")})

        @app.get("/session")
        def read_session() -> dict[str, Any]:
            return {"user": session.get("user")}

        return app

    return build


@pytest.fixture
def client(hostile_app: AppBuilder) -> TestClient:
    return hostile_app().test_client()


def assert_clean(response: Any, status: int, detail: str) -> None:
    """The exact status and detail (the reason), a framework error page (security headers on)
    and no traceback."""
    assert (response.status_code, response.text) == (status, detail)
    assert "Traceback" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


# -- A: forms ------------------------------------------------------------------------------------


def test_a_multipart_crlf_preamble_then_truncated(client: TestClient) -> None:
    # A3/A4: a CR/LF preamble is skipped in one pass; a body without its closing boundary is 400.
    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    part = b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
    whole = client.post("/form", body=b"\r\n" * 100_000 + part + b"--x--", headers=headers)
    assert whole.status_code == 200, whole.text
    assert whole.json() == {"a": ["1"]}
    ended_early = client.post("/form", body=b"\r\n" * 100_000 + part, headers=headers)
    assert_clean(ended_early, 400, ENDED_EARLY)
    truncated = b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1"
    response = client.post(
        "/form", body=truncated, headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert_clean(response, 400, ENDED_EARLY)


def test_a_urlencoded_field_flood(client: TestClient) -> None:
    fields = b"&".join(b"f%d=1" % index for index in range(1001))
    flood = client.post("/form", body=fields, headers=FORM)
    assert_clean(flood, 413, "Too many form fields (limit 1000).")
    # 100,000 empty fields are separators, not fields: parsed in one pass.
    response = client.post("/form", body=b"&" * 100_000 + b"a=1", headers=FORM)
    assert response.status_code == 200
    assert response.json() == {"a": ["1"]}


# -- B: complexity -------------------------------------------------------------------------------


def test_b_one_byte_chunks_are_read_in_linear_time(hostile_app: AppBuilder) -> None:
    app = hostile_app(MAX_REQUEST_BODY_BYTES=1 << 20)
    chunk = {"type": "http.request", "body": b"x", "more_body": True}
    last = {"type": "http.request", "body": b"", "more_body": False}

    def post(count: int) -> bytes:
        # NOTE: its own driver: tests.asgi pops from a list's front, quadratic by itself.
        messages = iter([*([chunk] * count), last])
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return next(messages, {"type": "http.disconnect"})

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asyncio.run(app(http_scope("/echo", "POST"), receive, send))
        return b"".join(message.get("body", b"") for message in sent[1:])

    assert post(20_000) == b'{"size":20000}'
    assert linear_ratio(lambda: post(20_000), lambda: post(40_000)) <= LIMIT


# -- C: traversal --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/files/../../etc/passwd",
        "/files/%2e%2e/%2e%2e/etc/passwd",
        "/files//etc/passwd",
        "/files/a/./b",
        "/files/",
    ],
)
def test_c_traversal_never_reaches_a_handler(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert_clean(response, 404, no_route(path.replace("%2e", ".")))


# -- D: redirects --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("//evil.example/x", "/%2Fevil.example/x"),
        ("/\\evil.example", "/%5Cevil.example"),
        ("/\\/evil.example", "/%5C/evil.example"),
    ],
)
def test_d_redirect_targets_are_never_scheme_relative(
    hostile_app: AppBuilder, target: str, location: str
) -> None:
    app = hostile_app()

    @app.get("/go")
    def go() -> RedirectResponse:
        return RedirectResponse(request.args["next"])

    response = app.test_client().get("/go", params={"next": target}, follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == location


# -- E: injection --------------------------------------------------------------------------------


def test_e_reflected_header_injection_never_reaches_the_wire(client: TestClient) -> None:
    # SECURITY: the header is refused when the response is built (a ValueError in the handler),
    # so the app's own bug becomes the clean 500, never a forged Set-Cookie.
    response = client.get("/reflect", params={"name": "a\r\nSet-Cookie: s=evil"})
    assert_clean(response, 500, SERVER_ERROR)
    assert "set-cookie" not in response.headers
    assert "evil" not in response.text
    assert client.get("/reflect", params={"name": "plain"}).headers["x-name"] == "plain"


@pytest.mark.parametrize("path", ["/admin\n", "/admin%0a", "/admin\x00", "/admin\x1b[2J"])
def test_e_control_characters_in_the_path_match_no_route(
    hostile_app: AppBuilder, path: str
) -> None:
    # NOTE: 404 rather than E7's 400; routing uses the same decoded path, so no ACL is skipped.
    result = call(hostile_app(), http_scope(path))
    assert (result.status, result.body.decode()) == (404, no_route(path))


# -- F: hosts and proxies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        b"localhost@evil.tld",
        b"localhost:80/badpath",
        b"localhost: recovermypassword.com",
        b"localhost..",
        b"localhost:port",
        b"localhost/abc?x=",
        b"localhostXcom",
    ],
)
def test_f_django_bad_host_list_is_400(
    hostile_app: AppBuilder, host: bytes, refusal: RefusalCheck
) -> None:
    scope = http_scope("/admin")
    scope["headers"] = [(b"host", host)]
    result = call(hostile_app(), scope)
    assert refusal(result) == (400, "host-check-failed")
    assert b"Invalid Host header" in result.body


def test_f_underscore_headers_are_not_forwarding_headers(hostile_app: AppBuilder) -> None:
    app = hostile_app(TRUSTED_PROXIES=["127.0.0.1"])

    @app.get("/where")
    def where() -> dict[str, Any]:
        return {"host": request.host, "scheme": request.scheme}

    headers = [(b"x_forwarded_host", b"evil.example"), (b"x_forwarded_proto", b"https")]
    result = call(app, http_scope("/where", headers=headers))
    assert result.status == 200
    assert result.body == b'{"host":"localhost","scheme":"http"}'


# -- G: session cookies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cookie",
    [
        "flasgo-session=invalid",
        "flasgo-session=" + "A" * 4000,
        "=flasgo-session=forged",
        "flasgo-session=eyJ1c2VyIjoiYWRtaW4ifQ.AAAA.BBBB",
    ],
)
def test_g_junk_session_cookies_are_anonymous(client: TestClient, cookie: str) -> None:
    response = client.get("/session", headers={"Cookie": cookie})
    assert response.status_code == 200
    assert response.json() == {"user": None}


# -- I: body decoding ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/json", b'{"a": "\xff\xfe"}', JSON),
        ("/json", b'{"a": "\\ud800"}', JSON),
        ("/json", b'{"a": "\xed\xa0\x80"}', JSON),
        ("/form", b"a=%ff%fe", FORM),
        ("/form", b"a=\xff", FORM),
    ],
)
def test_i_invalid_utf8_and_lone_surrogates_are_400(
    client: TestClient, path: str, body: bytes, headers: dict[str, str]
) -> None:
    detail = BAD_JSON if path == "/json" else "Form body is not valid UTF-8."
    assert_clean(client.post(path, body=body, headers=headers), 400, detail)


# -- J: decompression ----------------------------------------------------------------------------


def test_j_compressed_bodies_are_never_inflated(client: TestClient) -> None:
    bomb = gzip.compress(b"0" * 5_000_000)
    assert len(bomb) < 10_000
    response = client.post("/echo", body=bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.json() == {"size": len(bomb)}  # the handler sees the compressed bytes
    encoded = gzip.compress(b'{"a": 1}')
    response = client.post("/json", body=encoded, headers={**JSON, "Content-Encoding": "gzip"})
    # The parsers refuse a coding they do not decode.
    assert_clean(response, 415, ENCODED_BODY)
    assert response.headers["accept-encoding"] == "identity"


# -- K: WebSocket --------------------------------------------------------------------------------


def test_k_cross_site_websocket_is_refused(
    hostile_app: AppBuilder, security_events: list[str]
) -> None:
    app = hostile_app()

    @app.websocket("/ws")
    async def feed(websocket: Any) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    with app.test_client() as client:
        with (
            pytest.raises(WebSocketDenied) as denied,
            client.websocket_connect("/ws", origin="https://evil.example"),
        ):
            pass
        assert (denied.value.status_code, denied.value.body) == (403, ORIGIN_REFUSED)
        with (
            pytest.raises(WebSocketDenied) as missing,
            client.websocket_connect("/ws", origin=None),
        ):
            pass
        no_origin = b"WebSocket handshake without an Origin header."
        assert (missing.value.status_code, missing.value.body) == (403, no_origin)
        assert security_events == ["websocket-origin-failed"] * 2
        with client.websocket_connect("/ws") as ws:  # same origin: http://localhost
            assert ws.receive_text() == "hello"


# -- P: methods ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["TRACE", "FOO", "PROPFIND", "G" * 10_000])
def test_p_trace_and_unknown_methods_are_405(hostile_app: AppBuilder, method: str) -> None:
    result = call(hostile_app(), http_scope("/admin", method))
    assert (result.status, result.body) == (
        405,
        b"Method Not Allowed. Use one of: GET, HEAD, OPTIONS.",
    )
    assert dict(result.headers)["allow"] == "GET, HEAD, OPTIONS"
    assert b"Traceback" not in result.body
