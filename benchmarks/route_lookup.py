"""Time ``Router.match`` for 10, 100 and 1000 routes, static and dynamic; reports only.

Run: ``uv run --frozen --no-sync python benchmarks/route_lookup.py``
"""

from __future__ import annotations

import timeit

from flasgo.routing import Router


def build_router(count: int) -> Router[str]:
    """Register ``count`` static and ``count`` dynamic rules, as a mid-sized API would."""
    router: Router[str] = Router()
    for index in range(count):
        router.add(f"/r{index}/items", ["GET"], "list", name=f"list{index}")
        router.add(f"/r{index}/items/<int:item_id>", ["GET"], "item", name=f"item{index}")
        router.add(f"/r{index}/users/<name>/posts", ["GET"], "posts", name=f"posts{index}")
    return router


def time_match(router: Router[str], path: str, *, expect: bool = True) -> float:
    """Return the best per-call time of ``router.match(path)`` in microseconds."""
    if (router.match(path) is not None) != expect:
        raise SystemExit(f"unexpected match result for {path!r}")
    number = 100_000
    match = router.match
    best = min(timeit.repeat(lambda: match(path), number=number, repeat=5))
    return best / number * 1e6


def main() -> None:
    """Print a small table of match times."""
    print(f"{'routes':>7} {'static':>9} {'int':>9} {'str':>9} {'miss':>9}  (us per match)")
    for count in (10, 100, 1000):
        router = build_router(count)
        last = count - 1
        static = time_match(router, f"/r{last}/items")
        dynamic = time_match(router, f"/r{last}/items/12345")
        text = time_match(router, f"/r{last}/users/alice/posts")
        miss = time_match(router, "/nope/x/y", expect=False)
        print(f"{len(router):>7} {static:>9.3f} {dynamic:>9.3f} {text:>9.3f} {miss:>9.3f}")


if __name__ == "__main__":
    main()
