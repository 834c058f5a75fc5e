"""The API docs load with no internet: Swagger UI comes from installed packages (drf-spectacular-sidecar for the
management API, django-ninja's own copy for /v1), never from a CDN."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

STATIC = re.compile(r'(?:src|href)="/static/([^"?]+)"')


def _static_paths(page: str) -> list[str]:
    return STATIC.findall(page)


@pytest.mark.parametrize("url", ["/api/docs/", "/v1/docs"])
def test_swagger_ui_pages_load_only_the_portals_own_files(client, url):
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "https://" not in page
    assert "http://" not in page
    paths = _static_paths(page)
    assert any(path.endswith("swagger-ui-bundle.js") for path in paths), page
    for path in paths:
        assert finders.find(path), f"{path} is not among the static files"


def test_the_management_api_docs_script_is_a_file_of_its_own_not_inline(client):
    """So the page runs under the Content-Security-Policy (script-src 'self')."""
    page = client.get("/api/docs/").content.decode()
    assert re.search(r"<script>\s*\S", page) is None
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()
