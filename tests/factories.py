from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

from apps.access.models import App, Subscription
from apps.catalog.models import Lifecycle, Plan, Service, ServiceKind, Tag
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
