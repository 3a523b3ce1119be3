"""Binding: reading one callable's arguments from a request, as its `CallSpec` describes.

The sources were decided once by `flasgo.signature`; here, per request, tight loops read the
path values, query string, headers, cookies and injected objects (`make_extractor`) and the
body (`read_body`), collecting every failure so one 422 lists them all. `sync_binder` and
`body_binder` are the binders of a handler with no dependencies; `flasgo.dependencies` builds
the one for a graph of providers from the same parts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from flasgo.background import deferred_state
from flasgo.exceptions import UnsupportedMediaType
from flasgo.mediatypes import is_json_media_type
from flasgo.request import refuse_encoded_body
from flasgo.signature import MISSING, MULTIPART, CallSpec, Scalar, model_upload_fields
from flasgo.uploads import FormData
from flasgo.validation import (
    FormValidationError,
    RequestValidationError,
    cap_issues,
    collection_fields,
    issue,
)

if TYPE_CHECKING:
    from flasgo.request import Request

__all__ = [
    "Extractor",
    "body_binder",
    "invalid",
    "make_extractor",
    "read_body",
    "read_text",
    "sync_binder",
]

Extractor = Callable[["Request", dict[str, Any], list[dict[str, Any]]], dict[str, Any]]
"""Reads a callable's non-body arguments; failures are appended to the list passed in."""

_NOT_JSON = "Expected a JSON body: send it with Content-Type: application/json."
_NOT_FORM = "Expected a form body: send application/x-www-form-urlencoded or multipart/form-data."


# -- the request line, headers and injected values -------------------------------------------


def make_extractor(spec: CallSpec) -> Extractor:
    """Build the function that reads a callable's path/query/header/cookie/injected values.

    Failures are appended to the error list passed in; the caller raises them together.
    """
    # PERF: the plan is split by source once, so each request runs tight loops with no
    # per-parameter dispatch; identity coercions are skipped entirely.
    injected = tuple(spec.injected)
    background = tuple(spec.background)
    path_plain = tuple(
        (s.name, s.key) for s in spec.scalars if s.location == "path" and not s.coerce
    )
    path_coerced = tuple(s for s in spec.scalars if s.location == "path" and s.coerce)
    query = tuple(s for s in spec.scalars if s.location == "query")
    headers = tuple(s for s in spec.scalars if s.location == "header")
    cookies = tuple(s for s in spec.scalars if s.location == "cookie")

    def extract(
        request: Request, path_values: dict[str, Any], errors: list[dict[str, Any]]
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for name, provide in injected:
            kwargs[name] = provide(request)
        if background:
            tasks = deferred_state(request).background_tasks()
            for name in background:
                kwargs[name] = tasks
        for name, key in path_plain:
            kwargs[name] = path_values[key]
        for p in path_coerced:
            try:
                kwargs[p.name] = p.coerce(path_values[p.key])  # type: ignore[misc]  # NOTE: coerced
            except ValueError as exc:
                errors.append(issue(["path", p.key], p.code, str(exc) or "invalid value"))
        if query:
            args = request.args
            read_text(query, args.get, args.getlist, kwargs, errors)
        if headers:
            raw = request.headers
            read_text(
                headers, raw.get, _header_list(raw.getlist), kwargs, errors, single=raw.getlist
            )
        if cookies:
            jar = request.cookies
            read_text(cookies, jar.get, _no_list, kwargs, errors)
        return kwargs

    return extract


def _no_list(key: str) -> list[str]:  # pragma: no cover - cookies are never collections
    return []


def _header_list(getlist: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    def values(key: str) -> list[str]:
        return [part.strip() for value in getlist(key) for part in value.split(",") if part.strip()]

    return values


def read_text(
    specs: tuple[Scalar, ...],
    get: Callable[[str], str | None],
    getlist: Callable[[str], list[str]],
    kwargs: dict[str, Any],
    errors: list[dict[str, Any]],
    single: Callable[[str], list[str]] | None = None,
) -> None:
    """Read text parameters into `kwargs`; failures go to `errors`."""
    for p in specs:
        location = [p.location, p.key]
        if p.many:
            raw_values = getlist(p.key)
            if not raw_values:
                _fill_default(p, location, kwargs, errors)
                continue
            coerce = p.coerce
            try:
                kwargs[p.name] = [coerce(v) for v in raw_values] if coerce else raw_values
            except ValueError as exc:
                errors.append(issue(location, p.code, str(exc) or "invalid value"))
            continue
        raw = get(p.key)
        if raw is None:
            _fill_default(p, location, kwargs, errors)
        elif single is not None and len(single(p.key)) > 1:
            errors.append(issue(location, "multiple_values", "Expected one value, got several."))
        elif p.coerce is None:
            kwargs[p.name] = raw
        elif raw == "" and p.default is None:
            kwargs[p.name] = None
        else:
            try:
                kwargs[p.name] = p.coerce(raw)
            except ValueError as exc:
                errors.append(issue(location, p.code, str(exc) or "invalid value"))


def _fill_default(
    p: Scalar, location: list[Any], kwargs: dict[str, Any], errors: list[dict[str, Any]]
) -> None:
    if p.default is MISSING:
        errors.append(issue(location, "missing", "Field required"))
    else:
        kwargs[p.name] = p.default


# -- binders of a callable with no dependencies ----------------------------------------------


def sync_binder(extract: Extractor) -> Callable[[Request, dict[str, Any]], dict[str, Any]]:
    """The binder of a callable that reads no body: it runs on the loop, without awaiting."""

    def bind(request: Request, path_values: dict[str, Any]) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        kwargs = extract(request, path_values, errors)
        if errors:
            raise RequestValidationError(
                cap_issues(errors, request.app.settings.MAX_VALIDATION_ISSUES)
            )
        return kwargs

    return bind


def body_binder(
    spec: CallSpec, extract: Extractor
) -> Callable[[Request, dict[str, Any]], Awaitable[dict[str, Any]]]:
    """The (async) binder of a callable that reads the body."""
    body = spec.body
    assert body is not None
    model = body.model
    name = body.name
    if (
        model is not None
        and name is not None
        and body.media_type == "application/json"
        and body.default is MISSING
        and not (spec.injected or spec.background)
        and all(s.location == "path" and s.coerce is None for s in spec.scalars)
    ):
        # PERF: the common typed POST: one media type check, read, decode into the type.
        async def bind_json(request: Request, path_values: dict[str, Any]) -> dict[str, Any]:
            kwargs = dict(path_values)
            kwargs[name] = await _read_json(model, request, True, MISSING)
            return kwargs

        return bind_json

    async def bind(request: Request, path_values: dict[str, Any]) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        kwargs = extract(request, path_values, errors)
        form = await read_body(spec, request, kwargs, errors)
        if errors:
            raise invalid(errors, form, request)
        return kwargs

    return bind


# -- bodies ------------------------------------------------------------------------------------


def _content_type(request: Request) -> str | None:
    # PERF: a direct scan; the Headers index is only built if the handler asks for it.
    for key, value in request.scope["headers"]:
        if key == b"content-type":
            return str(value.decode("latin-1"))
    return None


async def _read_json(model: Any, request: Request, required: bool, default: Any) -> Any:
    content_type = _content_type(request)
    if content_type is not None and not is_json_media_type(content_type):
        # SECURITY: JSON sent as text/plain is a CORS "simple request" (no preflight): refuse.
        raise UnsupportedMediaType(_NOT_JSON)
    refuse_encoded_body(request)
    body = await request.body()
    if not body:
        if not required:
            return default
        raise RequestValidationError([issue(["body"], "missing", "A request body is required.")])
    if content_type is None:
        raise UnsupportedMediaType(_NOT_JSON)
    settings = request.app.settings
    return model.decode(
        body,
        settings.MAX_JSON_DEPTH,
        settings.MAX_VALIDATION_ISSUES,
        settings.MAX_VALIDATION_WORK,
    )


async def read_body(
    spec: CallSpec, request: Request, kwargs: dict[str, Any], errors: list[dict[str, Any]]
) -> FormData | None:
    """Read the body `spec` declares into `kwargs`; validation failures go to `errors`.

    Returns:
        For a form body, the `FormData` read (empty when no body came), for the
        `FormValidationError`; None for a JSON body.

    Raises:
        UnsupportedMediaType: The body is not of the declared media type.
    """
    body = spec.body
    assert body is not None
    if body.media_type != "application/json":
        return await _read_form(spec, request, kwargs, errors)
    assert body.name is not None
    try:
        kwargs[body.name] = await _read_json(
            body.model, request, body.default is MISSING, body.default
        )
    except RequestValidationError as exc:
        errors.extend(exc.errors)
    return None


def invalid(
    errors: list[dict[str, Any]], form: FormData | None, request: Request
) -> RequestValidationError:
    """The 422 for `errors`, capped: a `FormValidationError` when a form body was read."""
    capped = cap_issues(errors, request.app.settings.MAX_VALIDATION_ISSUES)
    if form is None:
        return RequestValidationError(capped)
    return FormValidationError(capped, form)


async def _read_form(
    spec: CallSpec, request: Request, kwargs: dict[str, Any], errors: list[dict[str, Any]]
) -> FormData:
    body = spec.body
    assert body is not None
    content_type = _content_type(request)
    if content_type is None and not await request.body():
        form: FormData | None = None
    elif content_type is None:
        raise UnsupportedMediaType(_NOT_FORM)
    else:
        form = await request.form()
    if body.name is None:
        _read_form_fields(body.fields, body.media_type == MULTIPART, form, kwargs, errors)
        return form if form is not None else FormData()
    if form is None:
        if body.default is MISSING:
            errors.append(issue(["body"], "missing", "A request body is required."))
        else:
            kwargs[body.name] = body.default
        return FormData()
    assert body.model is not None
    settings = request.app.settings
    raw = _form_object(body.model.annotation, form)
    uploads = _uploads_of(body.model.annotation)
    if uploads:
        files = await request.files()
        for key, many in uploads:
            if found := files.getlist(key):
                raw[key] = found if many else found[0]
    try:
        kwargs[body.name] = body.model.validate(
            raw, settings.MAX_VALIDATION_ISSUES, settings.MAX_VALIDATION_WORK, strict=False
        )
    except RequestValidationError as exc:
        errors.extend(exc.errors)
    return form


def _read_form_fields(
    fields: tuple[Scalar, ...],
    multipart: bool,
    form: FormData | None,
    kwargs: dict[str, Any],
    errors: list[dict[str, Any]],
) -> None:
    source: Any = form if form is not None else {}
    getlist = form.getlist if form is not None else (lambda key: [])
    if multipart:
        _read_files(fields, form.files if form is not None else None, kwargs, errors)
        fields = tuple(field for field in fields if field.location != "file")
    read_text(fields, source.get, getlist, kwargs, errors)


def _read_files(
    fields: tuple[Scalar, ...], files: Any, kwargs: dict[str, Any], errors: list[dict[str, Any]]
) -> None:
    for field in fields:
        if field.location != "file":
            continue
        uploads = files.getlist(field.key) if files is not None else []
        if uploads:
            kwargs[field.name] = uploads if field.many else uploads[0]
        elif field.default is not MISSING:
            kwargs[field.name] = field.default
        else:
            errors.append(issue(["body", field.key], "missing", "A file is required."))


_UPLOADS: dict[Any, tuple[tuple[str, bool], ...]] = {}


def _uploads_of(annotation: Any) -> tuple[tuple[str, bool], ...]:
    found = _UPLOADS.get(annotation)
    if found is None:
        found = _UPLOADS[annotation] = model_upload_fields(annotation)
    return found


def _form_object(annotation: Any, form: Any) -> dict[str, Any]:
    many = collection_fields(annotation)
    return {key: form.getlist(key) if key in many else form[key] for key in form}
