from __future__ import annotations

from datetime import UTC
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from factory.django import DjangoModelFactory

from apps.access.models import App, Subscription
from apps.analytics import histogram
from apps.analytics.models import AlertMetric, AlertRule, CallLog, CallRollup, Granularity
from apps.analytics.services.partitions import call_log_partitions_ensure
from apps.catalog.models import Lifecycle, Plan, Service, ServiceKind, Tag
from apps.core.crypto import encrypt_text
from apps.prompts.models import PromptTemplate, PromptVersion
from apps.providers.models import Deployment, Provider, ProviderModel, Route
from apps.tenants.models import Membership, Role, Tenant

PASSWORD = "correct-horse-battery"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(PASSWORD)


class TenantFactory(DjangoModelFactory):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda t: t.slug.replace("-", " ").title())


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Role.DEVELOPER


class AppFactory(DjangoModelFactory):
    class Meta:
        model = App

    tenant = factory.SubFactory(TenantFactory)
    slug = factory.Sequence(lambda n: f"app-{n}")
    name = factory.LazyAttribute(lambda a: a.slug.replace("-", " ").title())


class ProviderFactory(DjangoModelFactory):
    """An offline `echo` provider unless told otherwise."""

    class Meta:
        model = Provider

    tenant = factory.SubFactory(TenantFactory)
    slug = factory.Sequence(lambda n: f"provider-{n}")
    name = factory.LazyAttribute(lambda p: p.slug.replace("-", " ").title())
    kind = "echo"


class ProviderModelFactory(DjangoModelFactory):
    class Meta:
        model = ProviderModel

    provider = factory.SubFactory(ProviderFactory)
    tenant = factory.LazyAttribute(lambda m: m.provider.tenant)
    name = factory.Sequence(lambda n: f"model-{n}")
    upstream_id = factory.LazyAttribute(lambda m: m.name)
    modalities = factory.LazyFunction(lambda: ["text"])


class RouteFactory(DjangoModelFactory):
    class Meta:
        model = Route

    tenant = factory.SubFactory(TenantFactory)
    alias = factory.Sequence(lambda n: f"route-{n}")


class DeploymentFactory(DjangoModelFactory):
    class Meta:
        model = Deployment

    route = factory.SubFactory(RouteFactory)
    model = factory.SubFactory(ProviderModelFactory, provider__tenant=factory.SelfAttribute("...route.tenant"))


TEXT_SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


class PromptServiceFactory(DjangoModelFactory):
    """A catalog service of kind "prompt" on a route of its tenant; PromptTemplateFactory gives it its prompt."""

    class Meta:
        model = Service

    tenant = factory.SubFactory(TenantFactory)
    slug = factory.Sequence(lambda n: f"prompt-{n}")
    name = factory.LazyAttribute(lambda s: s.slug.replace("-", " ").title())
    kind = ServiceKind.PROMPT
    route = factory.SubFactory(RouteFactory, tenant=factory.SelfAttribute("..tenant"))
    input_schema = factory.LazyFunction(lambda: dict(TEXT_SCHEMA))


class PromptVersionFactory(DjangoModelFactory):
    """The next version of its template: a summarizer of `text`."""

    class Meta:
        model = PromptVersion

    template = factory.SubFactory("tests.factories.PromptTemplateFactory", live=False)
    number = factory.LazyAttribute(lambda v: (max(v.template.versions.values_list("number", flat=True), default=0)) + 1)
    system_template = "You summarize text."
    user_template = "Summarize: {{ text }}"
    variables_schema = factory.LazyFunction(lambda: dict(TEXT_SCHEMA))


class PromptTemplateFactory(DjangoModelFactory):
    """The prompt of a prompt service, with version 1 live (`live=False`: no version; `live__…`: its fields)."""

    class Meta:
        model = PromptTemplate
        skip_postgeneration_save = True

    service = factory.SubFactory(PromptServiceFactory)

    @factory.post_generation
    def live(self, create, extracted, **kwargs):
        if create and extracted is not False:
            self.live_version = PromptVersionFactory(template=self, **kwargs)
            self.save(update_fields=["live_version"])


class ServiceFactory(DjangoModelFactory):
    """A published model API on a route of its tenant (private unless told otherwise)."""

    class Meta:
        model = Service

    tenant = factory.SubFactory(TenantFactory)
    slug = factory.Sequence(lambda n: f"service-{n}")
    name = factory.LazyAttribute(lambda s: s.slug.replace("-", " ").title())
    kind = ServiceKind.MODEL
    lifecycle = Lifecycle.PUBLISHED
    route = factory.SubFactory(RouteFactory, tenant=factory.SelfAttribute("..tenant"))


class TagFactory(DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"tag-{n}")


class PlanFactory(DjangoModelFactory):
    class Meta:
        model = Plan

    service = factory.SubFactory(ServiceFactory)
    slug = factory.Sequence(lambda n: f"plan-{n}")
    name = factory.LazyAttribute(lambda p: p.slug.replace("-", " ").title())


class SubscriptionFactory(DjangoModelFactory):
    """A pending subscription of an app to a plan's service."""

    class Meta:
        model = Subscription

    plan = factory.SubFactory(PlanFactory)
    service = factory.LazyAttribute(lambda s: s.plan.service)
    app = factory.SubFactory(AppFactory)
    purpose = "Testing"


class AlertRuleFactory(DjangoModelFactory):
    """An error-rate rule (above 5 % over 5 minutes, at least 10 calls) with a webhook secret."""

    class Meta:
        model = AlertRule

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"rule-{n}")
    metric = AlertMetric.ERROR_RATE
    threshold = Decimal(5)
    window_minutes = 5
    min_calls = 10
    webhook_secret_encrypted = factory.LazyFunction(lambda: encrypt_text("whsec_test-secret-0123456789"))


class CallRollupFactory(DjangoModelFactory):
    """A minute of calls of `tenant_id` at `bucket`; `latencies` (ms, one per call) fills its histogram."""

    class Meta:
        model = CallRollup

    class Params:
        latencies = ()

    granularity = Granularity.MINUTE
    calls = factory.LazyAttribute(lambda r: len(r.latencies))

    @factory.lazy_attribute
    def latency_histogram(self) -> list[int]:
        counts = histogram.empty()
        for latency in self.latencies:
            counts[histogram.bucket_index(latency)] += 1
        return counts

    # Consistent with the histogram, as the rollup job computes them.
    latency_sum_ms = factory.LazyAttribute(lambda r: float(sum(r.latencies)))
    p50_ms = factory.LazyAttribute(lambda r: histogram.percentile(r.latency_histogram, 0.50))
    p95_ms = factory.LazyAttribute(lambda r: histogram.percentile(r.latency_histogram, 0.95))
    p99_ms = factory.LazyAttribute(lambda r: histogram.percentile(r.latency_histogram, 0.99))


class CallLogFactory(DjangoModelFactory):
    """A successful chat call of `tenant_id` made just now (give `created_at` for another time)."""

    class Meta:
        model = CallLog

    request_id = factory.Sequence(lambda n: f"req_{n:08d}")
    created_at = factory.LazyFunction(timezone.now)
    endpoint = "chat"
    status = 200
    latency_ms = 120.0
    upstream_ms = factory.LazyAttribute(lambda c: max(c.latency_ms - c.overhead_ms, 0.0))
    overhead_ms = 4.0
    model = "gpt-test"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # On PostgreSQL a row needs its day's partition.
        call_log_partitions_ensure({kwargs["created_at"].astimezone(UTC).date()})
        return super()._create(model_class, *args, **kwargs)
