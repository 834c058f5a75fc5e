"""What `make run` seeds is a living catalog: demo-app invokes both demo prompt APIs offline (echo provider)."""

from __future__ import annotations

from io import StringIO

import httpx
import pytest
from django.core.management import call_command

from apps.access.models import App
from apps.access.services import api_key_issue
from tests.gateway.conftest import refresh_snapshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_key(monkeypatch, live_gateway) -> str:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-password-for-tests")
    call_command("seed_demo", stdout=StringIO())
    _, secret = api_key_issue(app=App.objects.get(slug="demo-app"), name="test", actor_membership=None)
    refresh_snapshot()
    return secret


def test_demo_app_invokes_the_sentiment_api_and_gets_schema_valid_json(live_gateway, demo_key):
    response = httpx.post(
        f"{live_gateway}/api/v1/services/sentiment/invoke",
        json={"text": "I love this product"},
        headers={"Authorization": f"Bearer {demo_key}"},
    )
    assert response.status_code == 200, response.text
    output = response.json()["output"]
    assert output["label"] in {"positive", "negative", "neutral"}
    assert 0 <= output["confidence"] <= 1


def test_demo_app_invokes_the_summarize_api(live_gateway, demo_key):
    response = httpx.post(
        f"{live_gateway}/api/v1/services/summarize/invoke",
        json={"text": "A long story.", "sentences": 2},
        headers={"Authorization": f"Bearer {demo_key}"},
    )
    assert response.status_code == 200, response.text
    assert "A long story." in response.json()["output"]  # echo answers with the rendered prompt


def test_the_catalog_lists_both_services_to_the_demo_key(live_gateway, demo_key):
    response = httpx.get(f"{live_gateway}/api/v1/services/", headers={"Authorization": f"Bearer {demo_key}"})
    assert response.status_code == 200, response.text
    slugs = {row["slug"] for row in response.json()["results"]}
    assert {"sentiment", "summarize"} <= slugs
