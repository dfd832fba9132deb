"""Interactive API docs that work offline: Swagger UI and ReDoc served from installed packages.

FastAPI's default pages load Swagger UI and ReDoc from a CDN, so a self-hosted server
without Internet access (or a browser blocking third parties) shows a blank page. The
files come from installed packages instead: ``swagger-ui-bundle-v2`` (Swagger UI 5,
which reads OpenAPI 3.1) and ``fastapi-standalone-docs`` (whose ReDoc 2 bundle is the
only file used from it), each served under its page's own path. No web fonts are fetched.

Both pages carry a Content-Security-Policy that lets scripts come from this server only:
Swagger UI's one inline start-up script is allowed by its SHA-256 hash, nothing else
inline runs. (Both libraries set styles inline, and ReDoc runs its search in a blob:
worker, so those two are allowed.)
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_standalone_docs  # type: ignore[import-untyped]
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

REDOC_DIR = Path(fastapi_standalone_docs.__file__).parent / "static" / "redoc"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _with_policy(page: HTMLResponse, *, worker_src: str = "'none'") -> HTMLResponse:
    html = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"
        for code in _INLINE_SCRIPT.findall(html)
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}".rstrip()
        + f"; style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src {worker_src}; "
        "frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
    )
    return page


def install(app: FastAPI, *, docs_url: str, redoc_url: str, openapi_url: str) -> None:
    static = f"{docs_url}/static"
    app.mount(static, StaticFiles(directory=str(swagger_ui_path)), name="api-docs-static")
    redoc_static = f"{redoc_url}/static"
    app.mount(redoc_static, StaticFiles(directory=str(REDOC_DIR)), name="api-redoc-static")

    @app.get(docs_url, include_in_schema=False)
    def docs() -> HTMLResponse:
        return _with_policy(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} API",
                swagger_js_url=f"{static}/swagger-ui-bundle.js",
                swagger_css_url=f"{static}/swagger-ui.css",
                swagger_favicon_url=f"{static}/favicon-32x32.png",
            )
        )

    @app.get(redoc_url, include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _with_policy(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} API reference",
                redoc_js_url=f"{redoc_static}/redoc.standalone.js",
                redoc_favicon_url=f"{static}/favicon-32x32.png",
                with_google_fonts=False,
            ),
            worker_src="blob:",
        )
