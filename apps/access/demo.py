"""The demo catalog that `make run` seeds: two prompt APIs on the offline echo route, with plans, published,
and demo-app subscribed and approved — so a new user sees a living catalog and can invoke it at once."""

from __future__ import annotations

from decimal import Decimal

from apps.access.models import App, Subscription
from apps.access.services import subscription_approve, subscription_request
from apps.catalog.models import Service
from apps.catalog.services import plan_create, service_set_lifecycle
from apps.prompts.services import prompt_service_create
from apps.providers.models import Route
from apps.tenants.models import Membership

SENTIMENT = {
    "slug": "sentiment",
    "name": "Sentiment analysis",
    "summary": "Classifies the sentiment of a text as positive, negative or neutral, with a confidence.",
    "description": 'Send a `text`; get back `{"label", "confidence"}`.\n\nGood for support tickets and reviews.',
    "tags": ["nlp", "classification"],
    "system_template": "You classify the sentiment of texts. Answer with JSON only.",
    "user_template": "Classify the sentiment of this text:\n\n{{ text }}",
    "variables_schema": {
        "type": "object",
        "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 20000, "description": "the text"}},
        "required": ["text"],
        "additionalProperties": False,
    },
    "output_mode": "json",
    "output_schema": {
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": ["positive", "negative", "neutral"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["label", "confidence"],
    },
    "parameters": {"temperature": 0},
}
SUMMARIZE = {
    "slug": "summarize",
    "name": "Summarization",
    "summary": "Summarizes a text in a few sentences, in the language asked for.",
    "description": "Send a `text` and optionally `sentences` (1-10) and `language`.",
    "tags": ["nlp", "text"],
    "system_template": "You write faithful, short summaries.",
    "user_template": (
        "Summarize in {{ sentences | default(3) }} sentences"
        "{% if language is defined %}, in {{ language }}{% endif %}:\n\n{{ text }}"
    ),
    "variables_schema": {
        "type": "object",
        "properties": {
            "text": {"type": "string", "minLength": 1, "description": "the text to summarize"},
            "sentences": {"type": "integer", "minimum": 1, "maximum": 10},
            "language": {"type": "string", "maxLength": 40},
        },
        "required": ["text"],
        "additionalProperties": False,
    },
    "output_mode": "text",
    "output_schema": None,
    "parameters": {"temperature": 0.3, "max_tokens": 400},
}


def demo_services_seed(*, owner: Membership, route: Route, app: App) -> list[Service]:
    """Create what is missing (idempotent): the two services, their plans, demo-app's approved subscriptions."""
    services = []
    for spec in (SENTIMENT, SUMMARIZE):
        service = Service.objects.filter(slug=spec["slug"]).first()
        if service is None:
            service = prompt_service_create(
                tenant=owner.tenant,
                actor_membership=owner,
                route=route,
                visibility="public",
                approval_mode="manual",
                team="Platform",
                change_note="first version",
                **spec,
            )
            plan_create(
                service=service,
                actor_membership=owner,
                slug="free",
                name="Free",
                requests_per_day=100,
                requests_per_minute=10,
                monthly_budget=Decimal("5.00"),
                is_default=True,
            )
            plan_create(
                service=service,
                actor_membership=owner,
                slug="standard",
                name="Standard",
                requests_per_month=100_000,
                requests_per_minute=600,
                monthly_budget=Decimal("200.00"),
                position=1,
            )
            service_set_lifecycle(service=service, actor_membership=owner, lifecycle="published")
        if not Subscription.objects.filter(app=app, service=service).exists():
            subscription = subscription_request(
                app=app,
                service=service,
                plan=service.plans.get(slug="standard"),
                purpose="The demo app shows how apps call published prompt APIs.",
                actor_membership=owner,
            )
            subscription_approve(subscription=subscription, actor_membership=owner)
        services.append(service)
    return services
