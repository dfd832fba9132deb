"""The interactive API docs load nothing from outside the server (they work offline)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_docs_page_uses_only_local_files(client: TestClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/api/v1/") for s in sources), sources
    assert "cdn" not in page.text
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        asset = client.get(f"/api/v1/docs/static/{name}")
        assert asset.status_code == 200 and len(asset.content) > 100_000


def test_redoc_page_uses_only_local_files(client: TestClient) -> None:
    page = client.get("/api/v1/redoc")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/api/v1/") for s in sources), sources
    assert "fonts.googleapis" not in page.text and "cdn" not in page.text
    assert 'spec-url="/api/v1/openapi.json"' in page.text
    asset = client.get("/api/v1/redoc/static/redoc.standalone.js")
    assert asset.status_code == 200 and len(asset.content) > 500_000
    assert all(client.get(s).status_code == 200 for s in sources)


def test_docs_pages_run_no_inline_script_but_their_own(client: TestClient) -> None:
    for path in ("/api/v1/docs", "/api/v1/redoc"):
        policy = client.get(path).headers["content-security-policy"]
        scripts = policy.split("script-src ", 1)[1].split(";", 1)[0].split()
        assert "'unsafe-inline'" not in scripts and scripts[0] == "'self'", policy
        assert all(s.startswith("'sha256-") for s in scripts[1:]), policy
    swagger = client.get("/api/v1/docs").headers["content-security-policy"]
    assert "'sha256-" in swagger  # its start-up script, by hash
