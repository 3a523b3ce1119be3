"""The API docs pages (Swagger UI, ReDoc), their vendored assets and the spec endpoint."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from flasgo import Flasgo
from flasgo.openapi.docs import ASSET_CACHE_CONTROL, ASSETS, STATIC_DIR
from flasgo.testing import TestClient

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Test", "version": "1"},
    "paths": {"/items/{item_id}": {"get": {"operationId": "get_item_get", "responses": {}}}},
}
DOCS_URLS = ("/openapi.json", "/docs", "/docs/redoc", "/docs/static/swagger-ui.css")
NONCE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{16,})'")


@pytest.fixture
def spec_calls(monkeypatch: pytest.MonkeyPatch) -> list[Flasgo]:
    """Replace the spec builder; the list records each call's app."""
    calls: list[Flasgo] = []

    def openapi_spec(app: Flasgo) -> dict[str, Any]:
        calls.append(app)
        return SPEC

    monkeypatch.setattr("flasgo.openapi.schema.openapi_spec", openapi_spec)
    return calls


def docs_app(**settings: Any) -> Flasgo:
    app = Flasgo({"ENABLE_DOCS": True, **settings})

    @app.get("/items/<int:item_id>")
    async def get_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    return app


def nonce_of(response: Any) -> str:
    match = NONCE.search(response.headers["content-security-policy"])
    assert match is not None, response.headers["content-security-policy"]
    return match.group(1)


# -- off by default ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", DOCS_URLS)
def test_docs_are_off_by_default(url: str) -> None:
    app = Flasgo()

    assert app.test_client().get(url).status_code == 404
    assert not [r for r in app.url_map if r.endpoint.startswith("flasgo_")]


def test_an_auth_backend_protects_the_docs_rather_than_being_ignored() -> None:
    # The "default" backend finds nobody: every protected docs route is a 401.
    app = docs_app(DOCS_AUTH_BACKEND="default")
    client = app.test_client()

    assert client.get("/docs").status_code == 401
    assert client.get("/openapi.json").status_code == 401


def test_an_auth_backend_setting_is_harmless_while_docs_are_off() -> None:
    app = Flasgo({"DOCS_AUTH_BACKEND": "default"})

    assert app.test_client().get("/docs").status_code == 404


# -- routes ------------------------------------------------------------------------------------


def test_routes_are_named_get_only_and_listed(spec_calls: list[Flasgo]) -> None:
    app = docs_app()
    client = app.test_client()
    client.get("/docs")

    routes = {r.endpoint: r for r in app.url_map}
    assert routes["flasgo_openapi"].rule == "/openapi.json"
    assert routes["flasgo_docs"].rule == "/docs"
    assert routes["flasgo_redoc"].rule == "/docs/redoc"
    assert routes["flasgo_docs_static"].rule == "/docs/static/<name>"
    assert routes["flasgo_docs"].methods == ("GET", "HEAD", "OPTIONS")
    assert client.post("/docs").status_code == 405
    assert client.delete("/openapi.json").status_code == 405


def test_routes_are_left_out_of_the_schema() -> None:
    app = docs_app()
    app.test_client().get("/docs")

    options = {e.name: e.options for e in app.iter_endpoints()}
    assert options["flasgo_docs"] == {"include_in_schema": False, "cors": False}
    assert options["flasgo_openapi"] == {"include_in_schema": False, "cors": False}
    assert options["get_item"] == {}


def test_paths_follow_the_settings(spec_calls: list[Flasgo]) -> None:
    client = docs_app(DOCS_PATH="/reference/", OPENAPI_PATH="/spec.json").test_client()

    page = client.get("/reference/")
    assert page.status_code == 200
    assert '"url":"/spec.json"' in page.text
    assert 'src="/reference/static/swagger-ui-bundle.js?v=' in page.text
    assert client.get("/reference/redoc").status_code == 200
    assert client.get("/reference/static/redoc.standalone.js").status_code == 200
    assert client.get("/spec.json").json() == SPEC
    assert client.get("/openapi.json").status_code == 404


# -- spec --------------------------------------------------------------------------------------


def test_the_spec_is_json_built_once_per_app(spec_calls: list[Flasgo]) -> None:
    app = docs_app()
    client = app.test_client()

    first = client.get("/openapi.json")
    second = client.get("/openapi.json")

    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json"
    assert first.json() == second.json() == SPEC
    assert spec_calls == [app]
    assert client.head("/openapi.json").body == b""
    assert docs_app().test_client().get("/openapi.json").json() == SPEC
    assert len(spec_calls) == 2


def test_the_spec_documents_the_app_but_not_the_docs() -> None:
    document = docs_app().test_client().get("/openapi.json").json()

    assert list(document["paths"]) == ["/items/{item_id}"]
    assert document["paths"]["/items/{item_id}"]["get"]["operationId"] == "get_item_get"


# -- pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/docs", "/docs/redoc"])
def test_pages_carry_a_strict_policy_with_a_fresh_nonce(url: str) -> None:
    client = docs_app().test_client()

    first, second = client.get(url), client.get(url)

    assert first.status_code == 200
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    nonce = nonce_of(first)
    assert nonce != nonce_of(second)
    # The response's own policy replaces the app's default one instead of joining it.
    assert first.headers.get_list("content-security-policy") == [
        (
            "default-src 'none'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
            "font-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'none'"
        )
    ]
    inline = re.findall(r"<script( nonce=\"[^\"]*\")?>", first.text)
    assert inline == [f' nonce="{nonce}"']
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["referrer-policy"] == "no-referrer"
    assert first.headers["x-frame-options"] == "DENY"
    # ReDoc's logo URL appears only in the script that swaps it for an empty image.
    text = first.text.replace("'https://cdn.redoc.ly/redoc/logo-mini.svg'", "")
    assert "unpkg" not in text
    assert "cdn" not in text


def test_swagger_ui_page_is_configured_safely() -> None:
    page = docs_app().test_client().get("/docs").text

    found = re.search(r"SwaggerUIBundle\(Object.assign\((\{.*?\}),", page)
    assert found is not None
    assert json.loads(found[1]) == {
        "url": "/openapi.json",
        "dom_id": "#swagger-ui",
        "deepLinking": True,
        "queryConfigEnabled": False,
        "validatorUrl": None,
    }
    assert '<div id="swagger-ui"></div>' in page
    assert "<title>Flasgo API - Swagger UI</title>" in page


def test_redoc_page_loads_the_spec() -> None:
    page = docs_app(API_TITLE="Shop").test_client().get("/docs/redoc").text

    assert "Redoc.init(\"/openapi.json\", {}, document.getElementById('redoc'));" in page
    assert 'src="/docs/static/redoc.standalone.js?v=' in page
    assert "<title>Shop - ReDoc</title>" in page


def test_pages_link_assets_that_are_served() -> None:
    client = docs_app().test_client()

    for url in ("/docs", "/docs/redoc"):
        links = re.findall(r'(?:src|href)="(?!data:)([^"]+)"', client.get(url).text)
        assert links
        for link in links:
            assert client.get(link).status_code == 200


def test_root_path_prefixes_every_url(spec_calls: list[Flasgo]) -> None:
    client = TestClient(docs_app(), root_path="/api")

    swagger = client.get("/api/docs").text
    redoc = client.get("/api/docs/redoc").text

    assert '"url":"/api/openapi.json"' in swagger
    assert 'href="/api/docs/static/swagger-ui.css?v=' in swagger
    assert 'src="/api/docs/static/swagger-ui-bundle.js?v=' in swagger
    assert 'Redoc.init("/api/openapi.json"' in redoc
    assert 'src="/api/docs/static/redoc.standalone.js?v=' in redoc
    assert client.get("/api/openapi.json").json() == SPEC


def test_values_in_pages_are_escaped() -> None:
    hostile = "/x</script><script>alert(1)//"
    client = TestClient(docs_app(API_TITLE="<b>API</b> & co"), root_path=hostile)

    swagger = client.get("/docs").text
    redoc = client.get("/docs/redoc").text

    assert "<title>&lt;b&gt;API&lt;/b&gt; &amp; co - Swagger UI</title>" in swagger
    for page in (swagger, redoc):
        assert "<script>alert" not in page
        assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page  # in the src/href attributes
        assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in page  # in the script
        assert page.count("<script") == 2


def test_api_servers_may_be_called_from_the_page() -> None:
    servers = [
        "https://api.example.com/v1",
        "https://api.example.com/v2",
        "http://user@10.0.0.1:8080/",
        "/relative",
        "ftp://files.example.com",
        "https://bad_host.example.com",
    ]
    page = docs_app(API_SERVERS=servers).test_client().get("/docs")

    policy = page.headers["content-security-policy"]
    assert "connect-src 'self' https://api.example.com http://10.0.0.1:8080;" in policy


# -- static assets -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_assets_are_served_with_long_lived_validators(name: str) -> None:
    client = docs_app().test_client()

    response = client.get(f"/docs/static/{name}")

    relative, content_type = ASSETS[name]
    body = (STATIC_DIR / relative).read_bytes()
    assert response.status_code == 200
    assert response.body == body
    assert response.headers["content-type"] == content_type
    assert response.headers["etag"] == f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    assert response.headers["cache-control"] == ASSET_CACHE_CONTROL
    assert "pragma" not in response.headers
    assert "expires" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_content_types_fit_the_files() -> None:
    assert ASSETS["swagger-ui.css"][1] == "text/css; charset=utf-8"
    assert ASSETS["swagger-ui-bundle.js"][1] == "text/javascript; charset=utf-8"
    assert ASSETS["redoc.standalone.js"][1] == "text/javascript; charset=utf-8"


@pytest.mark.parametrize(
    "url",
    [
        "/docs/static/nope.js",
        "/docs/static/LICENSE",
        "/docs/static/NOTICE",
        "/docs/static/manifest.json",
        "/docs/static/README.md",
        "/docs/static/swagger-ui",
        "/docs/static/swagger-ui/swagger-ui.css",
        "/docs/static/swagger-ui%2Fswagger-ui.css",
        "/docs/static/..%2f..%2fdocs.py",
        "/docs/static/..%2F..%2F..%2Fapp.py",
        "/docs/static/../docs.py",
        "/docs/static/%2e%2e",
        "/docs/static/..",
        "/docs/static/",
        "/docs/static/SWAGGER-UI.CSS",
    ],
)
def test_only_allowlisted_names_are_served(url: str) -> None:
    response = docs_app().test_client().get(url)

    assert response.status_code == 404
    assert b"import" not in response.body


def test_a_nul_in_an_asset_name_is_400() -> None:
    # NOTE: a control character in a path parameter is refused before any handler runs.
    response = docs_app().test_client().get("/docs/static/swagger-ui.css%00")

    assert response.status_code == 400
    assert response.text == "The request path contains a control character."


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", '"other", {etag}', "*"],
)
def test_a_matching_validator_gets_304(if_none_match: str) -> None:
    client = docs_app().test_client()
    etag = client.get("/docs/static/swagger-ui.css").headers["etag"]

    response = client.get(
        "/docs/static/swagger-ui.css",
        headers={"if-none-match": if_none_match.format(etag=etag)},
    )

    assert response.status_code == 304
    assert response.body == b""
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == ASSET_CACHE_CONTROL
    assert "content-type" not in response.headers


@pytest.mark.parametrize("if_none_match", ['"other"', "", '"5ed0"'])
def test_a_stale_validator_gets_the_file(if_none_match: str) -> None:
    client = docs_app().test_client()

    response = client.get("/docs/static/swagger-ui.css", headers={"if-none-match": if_none_match})

    assert response.status_code == 200
    assert response.body


def test_head_sends_the_headers_without_the_file() -> None:
    client = docs_app().test_client()
    url = "/docs/static/redoc.standalone.js"

    response = client.head(url)

    assert response.status_code == 200
    assert response.body == b""
    assert response.headers["content-length"] == str(len(client.get(url).body))


# -- the vendored files ------------------------------------------------------------------------


def test_vendored_files_match_the_manifest() -> None:
    manifest = json.loads((STATIC_DIR / "manifest.json").read_text())["packages"]

    assert set(manifest) == {"swagger-ui-dist", "redoc"}
    listed: set[Path] = set()
    for package in manifest.values():
        assert re.fullmatch(r"\d+\.\d+\.\d+", package["version"])
        assert package["integrity"].startswith("sha512-")
        assert "LICENSE" in package["files"]
        for name, digest in package["files"].items():
            path = STATIC_DIR / package["folder"] / name
            assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path
            listed.add(path)
    on_disk = {p for p in STATIC_DIR.rglob("*") if p.is_file()}
    assert on_disk - listed == {STATIC_DIR / "manifest.json", STATIC_DIR / "README.md"}
    for relative, _ in ASSETS.values():
        assert STATIC_DIR / relative in listed


def test_the_notice_names_each_vendored_version() -> None:
    manifest = json.loads((STATIC_DIR / "manifest.json").read_text())["packages"]
    notice = (STATIC_DIR / "README.md").read_text()

    for name, package in manifest.items():
        assert f"{name}@{package['version']}" in notice
        assert package["license"] in notice


def test_pages_name_an_empty_icon_so_browsers_do_not_fetch_a_missing_favicon() -> None:
    # Without it the browser asks for /favicon.ico, a 404 and a console error on every visit.
    client = docs_app().test_client()

    for url in ("/docs", "/docs/redoc"):
        assert '<link rel="icon" href="data:,">' in client.get(url).text
