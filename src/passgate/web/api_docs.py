"""Interactive API docs that work offline: Swagger UI served from the installed package.

FastAPI's default page loads Swagger UI from a CDN, so a self-hosted server without
Internet access (or a browser blocking third parties) shows a blank page. The files come
from the ``swagger-ui-bundle-v2`` package instead (Swagger UI 5, which reads OpenAPI 3.1)
and are served under the docs path itself.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]


def install(app: FastAPI, *, docs_url: str, openapi_url: str) -> None:
    static = f"{docs_url}/static"
    app.mount(static, StaticFiles(directory=str(swagger_ui_path)), name="api-docs-static")

    @app.get(docs_url, include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{static}/swagger-ui-bundle.js",
            swagger_css_url=f"{static}/swagger-ui.css",
            swagger_favicon_url=f"{static}/favicon-32x32.png",
        )
