"""The security header policy: which hardening headers each response carries, compiled once.

Every response gets ``SECURITY_HEADERS`` (by default ``nosniff``, ``X-Frame-Options``,
``Referrer-Policy`` and a short ``default-src 'none'`` CSP), ``Cache-Control: no-store`` while
``ENFORCE_NO_STORE_CACHE`` is on, and HSTS on HTTPS only (RFC 6797 §7.2). HTML pages (the only
responses a browser renders as a document) also get ``PAGE_SECURITY_HEADERS``: the page CSP,
``Permissions-Policy`` and COOP.

# PERF: the blocks are byte pairs built once; the server spends CPU per header and per byte
# of every response, so headers that mean nothing for a JSON body are not sent with one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final

__all__ = ["NO_STORE", "Block", "HeaderPolicy"]

Block = list[tuple[bytes, bytes]]

NO_STORE: Final = (b"cache-control", b"no-store")
# Media types a browser renders as a document that can run script.
_PAGE_TYPES: Final = ("text/html", "application/xhtml+xml")


def _encode(headers: Mapping[str, str]) -> Block:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


def _override(block: Block, extra: Block) -> Block:
    names = {name for name, _ in extra}
    return [*(item for item in block if item[0] not in names), *extra]


class HeaderPolicy:
    """The prebuilt header blocks, indexed by ``[is_page][is_https]``.

    Args:
        security_headers: Sent with every response.
        page_headers: Sent with HTML responses too, replacing same-named ones.
        no_store: Whether ``Cache-Control: no-store`` is sent by default.
        hsts: The ``Strict-Transport-Security`` value for HTTPS responses, or None.
    """

    __slots__ = ("blocks", "names")

    def __init__(
        self,
        security_headers: Mapping[str, str],
        page_headers: Mapping[str, str],
        *,
        no_store: bool,
        hsts: str | None,
    ) -> None:
        base = _encode(security_headers)
        if no_store:
            base = _override(base, [NO_STORE])
        page = _override(base, _encode(page_headers))
        secure_extra = [(b"strict-transport-security", hsts.encode("latin-1"))] if hsts else []
        self.blocks: tuple[tuple[Block, Block], tuple[Block, Block]] = (
            (base, _override(base, secure_extra)),
            (page, _override(page, secure_extra)),
        )
        # Every name a block may hold: a response setting one of them overrides the default.
        self.names: frozenset[str] = frozenset(
            name.decode("latin-1")
            for block in (*self.blocks[0], *self.blocks[1])
            for name, _ in block
        )

    @staticmethod
    def is_page(content_type: str | None) -> bool:
        """Whether a response of `content_type` is a document a browser renders."""
        return content_type is not None and content_type.startswith(_PAGE_TYPES)

    def block(self, *, page: bool, https: bool) -> Block:
        """The default headers of a response (shared: copy before changing)."""
        return self.blocks[page][https]

    def merge(
        self, raw: Block, own_names: Collection[str], *, page: bool, https: bool, public: bool
    ) -> Block:
        """The response's headers after the defaults it does not set itself.

        Args:
            raw: The response's own header pairs.
            own_names: The response's own header names (lower-case).
            page: Whether the response is an HTML page.
            https: Whether the request came over HTTPS.
            public: The response opted out of the default ``no-store``.
        """
        base = self.blocks[page][https]
        if public:
            base = [item for item in base if item != NO_STORE]
        # PERF: only a response that sets one of the default names pays for filtering.
        if not self.names.isdisjoint(own_names):
            own = {name for name, _ in raw}
            base = [item for item in base if item[0] not in own]
        return [*base, *raw]
