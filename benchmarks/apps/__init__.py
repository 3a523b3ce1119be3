"""One module per framework, each exposing `app` (loadable as `benchmarks.apps.<name>:app`)."""

FRAMEWORKS: tuple[str, ...] = (
    "raw",
    "flasgo",
    "flasgo_nosec",
    "starlette",
    "fastapi",
    "litestar",
    "blacksheep",
    "falcon",
)
"""Row order of every table. `raw` is the limit; `flasgo*` are ours; the rest are peers."""

OURS: frozenset[str] = frozenset({"flasgo", "flasgo_nosec"})
BASELINE = "raw"


def is_peer(name: str) -> bool:
    """Tell whether a framework counts as a peer (neither the raw limit nor Flasgo)."""
    return name != BASELINE and name not in OURS
