"""The web UI: serves the React bundle built from `frontend/` (in `web/dist`) at `/`.

Hashed files under `/assets/` are cached for a year; `index.html` is never cached, and every
other GET path that no route answers, outside the API and the public entry points, answers it
too, so the browser's router can show `/workflows/...` after a reload. Without a build, `/`
explains how to make one.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from wirework.errors import NotFound
from wirework.problems import problem_response

DIST = Path(__file__).resolve().parent / "dist"

# First path segments the UI never answers: the API, webhooks, health, metrics, the API docs.
RESERVED_SEGMENTS = frozenset(
    {"api", "webhook", "webhook-test", "healthz", "readyz", "metrics", "docs", "openapi.json", "redoc"}
)

NO_BUILD_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Wirework</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#f2f2f2;padding:.1rem .3rem;border-radius:4px}</style></head>
<body><h1>Wirework</h1>
<p>The API is running, but the web UI has not been built.</p>
<p>Run <code>make run</code> (or <code>make web</code>, which needs Node.js 20 and npm) and reload.</p>
<p>The API is described at <a href="/docs">/docs</a>.</p></body></html>
"""

HASHED_CACHE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
# The page above styles itself inline; the built UI needs no such exception (security.headers).
NO_BUILD_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def _is_reserved(path: str) -> bool:
    return path.split("/", 1)[0] in RESERVED_SEGMENTS


def _index(dist: Path) -> Response:
    index = dist / "index.html"
    if not index.is_file():
        return HTMLResponse(
            NO_BUILD_PAGE, headers={"Cache-Control": NO_CACHE, "Content-Security-Policy": NO_BUILD_CSP}
        )
    return FileResponse(index, media_type="text/html", headers={"Cache-Control": NO_CACHE})


def _file_in(dist: Path, path: str) -> Path | None:
    """The file `path` names inside `dist`, or None (also for anything escaping it)."""
    if not path:
        return None
    candidate = (dist / path).resolve()
    if not candidate.is_relative_to(dist.resolve()) or not candidate.is_file():
        return None
    return candidate


def mount_web(app: FastAPI, dist: Path = DIST) -> None:
    """Serve the built UI at `/`, with a fallback to `index.html` for the browser's routes.

    The fallback is the handler of "no route matched" (404) for GET requests, not a catch-all
    route, so routes added later still win and unknown API paths stay problem+json.
    """

    @app.get("/", include_in_schema=False)
    async def web_index() -> Response:
        return _index(dist)

    @app.get("/assets/{path:path}", include_in_schema=False)
    async def web_asset(path: str) -> Response:
        found = _file_in(dist / "assets", path)
        if found is None:
            raise NotFound(f"No such asset: {path}.")
        return FileResponse(found, headers={"Cache-Control": HASHED_CACHE})

    async def not_found(request: Request, exc: Exception) -> Response:
        path = request.url.path.lstrip("/")
        no_route = "endpoint" not in request.scope  # a route's own 404 stays a problem
        if no_route and request.method in ("GET", "HEAD") and not _is_reserved(path):
            found = _file_in(dist, path)
            if found is not None:
                return FileResponse(found, headers={"Cache-Control": NO_CACHE})
            return _index(dist)
        detail = getattr(exc, "detail", None)
        return problem_response(
            request,
            404,
            detail if isinstance(detail, str) else "Not Found",
            headers=getattr(exc, "headers", None),
        )

    app.add_exception_handler(404, not_found)
