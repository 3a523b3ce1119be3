"""OpenAPI: the 3.1 document generated from the compiled routes, and the docs pages.

`openapi_spec(app)` builds the document (`flasgo.openapi.schema`, with annotations mapped by
`flasgo.openapi.registry` and ``info`` by `flasgo.openapi.info`); ``app.openapi()`` returns it
cached once the app serves. The Swagger UI and ReDoc pages live in `flasgo.openapi.docs`.
Nothing here is imported by ``import flasgo``.
"""

from __future__ import annotations

from flasgo.openapi.info import DEFAULT_API_VERSION, api_version
from flasgo.openapi.registry import SchemaRegistry
from flasgo.openapi.schema import OPENAPI_VERSION, openapi_spec

__all__ = [
    "DEFAULT_API_VERSION",
    "OPENAPI_VERSION",
    "SchemaRegistry",
    "api_version",
    "openapi_spec",
]
