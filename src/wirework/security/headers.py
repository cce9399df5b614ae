"""Response headers that keep the app's origin the app's: for the UI and API, and for webhooks.

A webhook answer carries what a workflow chose (status, headers, body) on the app's own origin,
so it is served to be inert there:

- `Content-Security-Policy: sandbox`: a browser that opens it as a page runs it in an opaque
  origin, so its script cannot read the app's cookies or storage, nor call the API as the
  user; `X-Content-Type-Options: nosniff` keeps its type what it says.
- Headers that would change how the browser treats the whole origin are dropped:
  `Set-Cookie` (every one by default; with `WIREWORK_WEBHOOK_ALLOW_COOKIES` all but the app's
  own `wirework…` names), `Clear-Site-Data` (logs users out), `Strict-Transport-Security`,
  `Alt-Svc`, the reporting headers (`NEL`, `Report-To`, `Reporting-Endpoints`: they would send
  the origin's network errors elsewhere), `Service-Worker-Allowed`, and the framing headers the
  server sets itself.

The UI and API get a strict policy: scripts and styles only from the app's own files (the built
bundle has no inline script or style element; React and React Flow set styles through the DOM,
which a policy does not restrict; no `eval`), no framing, no plugins, no referrer to other
sites. tests/ui/test_security_headers.py drives the UI in Chromium and sees no violation.
`/docs` and `/redoc` load Swagger UI and ReDoc from their CDN with an inline start script, so
they get a policy that allows exactly that.
"""

from __future__ import annotations

from collections.abc import Mapping

APP_COOKIE_PREFIX = "wirework"

_UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_CDN = "https://cdn.jsdelivr.net"
_DOCS_CSP = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_CDN}; "
    f"style-src 'self' 'unsafe-inline' {_CDN}; img-src 'self' data: https:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


_COMMON = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
APP_HEADERS = _encoded({"content-security-policy": _UI_CSP, **_COMMON})
DOCS_HEADERS = _encoded({"content-security-policy": _DOCS_CSP, **_COMMON})
WEBHOOK_HEADERS = _encoded({"content-security-policy": "sandbox", "x-content-type-options": "nosniff"})

_DROPPED = frozenset(
    {
        "clear-site-data",
        "strict-transport-security",
        "alt-svc",
        "nel",
        "report-to",
        "reporting-endpoints",
        "service-worker-allowed",
        # framing and connection: the server's to set
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "trailer",
        "te",
    }
)


def is_app_cookie(set_cookie: str) -> bool:
    """Whether a Set-Cookie value names one of the app's cookies (`wirework…` in any case, also
    behind the `__Host-`/`__Secure-` prefixes), or no name at all."""
    name = set_cookie.split(";", 1)[0].split("=", 1)[0].strip().lower()
    for prefix in ("__host-", "__secure-"):
        name = name.removeprefix(prefix)
    return not name or name.startswith(APP_COOKIE_PREFIX)


def answer_headers(headers: Mapping[str, str], *, allow_cookies: bool) -> dict[str, str]:
    """The headers a workflow gave its answer, less those it may not set (see the module doc)."""
    kept: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _DROPPED:
            continue
        if lowered == "set-cookie" and (not allow_cookies or is_app_cookie(value)):
            continue
        kept[name] = value
    return kept
