"""redirect(): a target without a scheme stays on this site however a browser reads it.

The oracle is Ada (the ``ada-url`` dev dependency), the WHATWG URL parser browsers implement:
each ``Location`` the framework sends is resolved against the page's URL exactly as a browser
would, and must keep the page's origin.
"""

from __future__ import annotations

import re

import ada_url
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flasgo import redirect
from tests.conftest import AppFactory, ClientFactory

BASE = "https://site.example/account/login"
ORIGIN = "https://site.example"

# Every form found to leave the site through a browser, and their neighbours.
OFF_SITE_CORPUS = [
    "//evil.example",
    "///evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\evil.example",
    "/\t/evil.example",
    "\t//evil.example",
    "/\t\\evil.example",
    " //evil.example",
    "  \\\\evil.example",
    "\x01//evil.example",
    "\x1f\\/evil.example",
    "//evil.example/path?x=1#frag",
    "\\\\site.example@evil.example",
    "/\t\t/evil.example",
    "\x0c//evil.example ",
]

ON_SITE = ["/", "/next", "next", "?page=2", "#top", "/a//b", "/a\\b", "./x", "../x"]


def origin_of(location: str) -> str:
    url = ada_url.URL(location, base=BASE)
    return f"{url.protocol}//{url.host}"


def test_the_oracle_reads_the_corpus_as_another_origin() -> None:
    # NOTE: the corpus is only worth something if each entry really leaves the site raw.
    assert {origin_of(location) for location in OFF_SITE_CORPUS} == {"https://evil.example"}


@pytest.mark.parametrize("location", OFF_SITE_CORPUS)
def test_off_site_forms_stay_on_this_site(location: str) -> None:
    sent = redirect(location).headers["location"]
    assert origin_of(sent) == ORIGIN


@pytest.mark.parametrize("location", ON_SITE)
def test_on_site_targets_are_unchanged(location: str) -> None:
    assert redirect(location).headers["location"] == location


def test_a_target_with_a_scheme_is_the_apps_choice() -> None:
    assert redirect("https://example.com/x").headers["location"] == "https://example.com/x"
    assert redirect(" https://example.com/x ").headers["location"] == "https://example.com/x"


@pytest.mark.parametrize("location", ["/a\r\nSet-Cookie: x=1", "/a\nb", "/\x00"])
def test_header_injection_is_still_refused(location: str) -> None:
    with pytest.raises(ValueError, match="CR, LF and NUL"):
        redirect(location)


# Header values are ISO-8859-1 text without CR, LF and NUL (those raise, as tested above).
_HEADER_TEXT = st.text(
    st.characters(min_codepoint=1, max_codepoint=255, blacklist_characters="\r\n"), max_size=24
)
_PREFIX = st.sampled_from(["", "/", "\\", " ", "\t", "\x01", "//", "\\\\", "/\t", " \\"])


@given(prefix=_PREFIX, rest=_HEADER_TEXT)
def test_no_schemeless_target_leaves_the_site(prefix: str, rest: str) -> None:
    location = prefix + rest
    sent = redirect(location).headers["location"]
    if re.match(r"[A-Za-z][A-Za-z0-9+\-.]*:", sent):
        # NOTE: a target that begins with a scheme is absolute by the app's own choice.
        ada_url.URL(sent)  # it parses as an absolute URL, so it had a scheme
        return
    assert origin_of(sent) == ORIGIN


def test_the_trailing_slash_redirect_cannot_leave_the_site(
    make_app: AppFactory, make_client: ClientFactory
) -> None:
    app = make_app(REDIRECT_TRAILING_SLASH=True)

    @app.get("/<path:rest>/")
    def anything(rest: str) -> str:
        return rest

    response = make_client(app).get("/%09/evil.example", follow_redirects=False)
    assert response.status_code == 308
    assert origin_of(response.headers["location"]) == ORIGIN


def test_the_trailing_slash_redirect_percent_encodes_the_path(
    make_app: AppFactory, make_client: ClientFactory
) -> None:
    app = make_app(REDIRECT_TRAILING_SLASH=True)

    @app.get("/<name>/")
    def named(name: str) -> str:
        return name

    response = make_client(app).get("/%E2%82%AC", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/%E2%82%AC/"
