"""Alert rules (every member reads them, owners and admins change them) and the alerts they raised (read-only).

A rule's webhook secret is write-only: the answer to its creation carries it once (the one given, or a
generated one), and rotate-secret answers with a new one; no other answer has it."""

from __future__ import annotations

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.analytics.models import Alert, AlertDelivery, AlertMetric, AlertRule
from apps.analytics.models.alerts import MAX_WINDOW_MINUTES, webhook_url_validator
from apps.analytics.selectors import alerts as selectors
from apps.analytics.services import alert_deliveries
from apps.analytics.services import alerts as services
from apps.catalog.selectors import service_list
from apps.providers.api.serializers import InTenantField
from apps.tenants.api.base import TenantScopedViewSet
from apps.tenants.models import Role

WEBHOOK_KEY_HELP = (
    "Key of the HMAC-SHA256 signature in each webhook request's X-Gateway-Signature header. Write-only; "
    "on creation, a generated one when absent."
)


class AlertRuleOut(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True, help_text="Slug of the service in scope")
    firing_since = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When its open alert fired; null when it is not firing."
    )

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "metric",
            "threshold",
            "window_minutes",
            "min_calls",
            "service",
            "model",
            "email_recipients",
            "webhook_url",
            "enabled",
            "firing_since",
            "created_at",
            "updated_at",
        ]


class AlertRuleCreatedOut(AlertRuleOut):
    webhook_secret = serializers.SerializerMethodField(help_text="The webhook secret. Shown once: store it now.")

    class Meta(AlertRuleOut.Meta):
        fields = [*AlertRuleOut.Meta.fields, "webhook_secret"]

    def get_webhook_secret(self, rule: AlertRule) -> str:
        return self.context["secret"]


class AlertRuleUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    metric = serializers.ChoiceField(choices=AlertMetric.choices, required=False)
    threshold = serializers.DecimalField(
        max_digits=18, decimal_places=6, min_value=0, required=False, help_text="percent, ms, USD or a count"
    )
    window_minutes = serializers.IntegerField(min_value=1, max_value=MAX_WINDOW_MINUTES, required=False)
    min_calls = serializers.IntegerField(min_value=1, required=False)
    service = InTenantField(
        selector=service_list, slug_field="slug", what="service", required=False, allow_null=True, help_text="Slug"
    )
    model = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email_recipients = serializers.ListField(
        child=serializers.EmailField(), max_length=services.MAX_EMAIL_RECIPIENTS, required=False
    )
    webhook_url = serializers.URLField(
        max_length=500, required=False, allow_blank=True, validators=[webhook_url_validator]
    )
    webhook_secret = serializers.CharField(
        write_only=True,
        required=False,
        min_length=services.WEBHOOK_SECRET_MIN_LENGTH,
        max_length=200,
        style={"input_type": "password"},
        help_text=WEBHOOK_KEY_HELP,
    )
    enabled = serializers.BooleanField(required=False)


class AlertRuleCreateIn(AlertRuleUpdateIn):
    name = serializers.CharField(max_length=100)
    metric = serializers.ChoiceField(choices=AlertMetric.choices)
    threshold = serializers.DecimalField(
        max_digits=18, decimal_places=6, min_value=0, help_text="percent, ms, USD or a count"
    )


class AlertRuleSecretOut(serializers.Serializer):
    webhook_secret = serializers.CharField(help_text="The new webhook secret. Shown once: store it now.")


class TestOutcomeOut(serializers.Serializer):
    channel = serializers.CharField()
    target = serializers.CharField()
    ok = serializers.BooleanField()
    message = serializers.CharField()


class AlertDeliveryOut(serializers.ModelSerializer):
    # A plain string in the schema: an enum would collide with the subscriptions' `status` choice set by name.
    status = serializers.CharField(read_only=True, help_text="pending, sent or failed")

    class Meta:
        model = AlertDelivery
        fields = ["id", "event", "channel", "target", "status", "attempts", "last_error", "created_at", "sent_at"]


class AlertOut(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    metric = serializers.CharField(source="rule.metric", read_only=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "rule",
            "rule_name",
            "metric",
            "state",
            "fired_at",
            "resolved_at",
            "value",
            "last_value",
            "message",
            "resolution",
        ]

    def get_state(self, alert: Alert) -> str:
        return selectors.AlertState.FIRING if alert.is_firing else selectors.AlertState.RESOLVED


class AlertDetailOut(AlertOut):
    deliveries = AlertDeliveryOut(many=True, read_only=True)

    class Meta(AlertOut.Meta):
        fields = [*AlertOut.Meta.fields, "deliveries"]


class AlertFilterIn(serializers.Serializer):
    state = serializers.ChoiceField(choices=selectors.AlertState.CHOICES, required=False)


def _validated(serializer_class, request: Request, data=None) -> dict:
    """The request's input, checked; a service it names is looked up in the request's tenant only."""
    serializer = serializer_class(data=request.data if data is None else data, context={"tenant": request.tenant})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# A failing request's form data never reaches an error report with the secret in it.
@method_decorator(sensitive_post_parameters("webhook_secret"), name="dispatch")
class AlertRuleViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Alert rules of the tenant, evaluated every minute over its traffic."""

    serializer_class = AlertRuleOut
    write_role = Role.ADMIN

    def get_queryset(self):
        return selectors.alert_rule_list(tenant=self.request.tenant)

    def retrieve(self, request, tenant_slug: str, pk: str):
        return Response(AlertRuleOut(selectors.alert_rule_get(tenant=request.tenant, pk=pk)).data)

    @extend_schema(request=AlertRuleCreateIn, responses={201: AlertRuleCreatedOut})
    def create(self, request, tenant_slug: str):
        data = _validated(AlertRuleCreateIn, request)
        rule, secret = services.alert_rule_create(tenant=request.tenant, actor_membership=request.membership, **data)
        rule = selectors.alert_rule_get(tenant=request.tenant, pk=rule.pk)
        return Response(AlertRuleCreatedOut(rule, context={"secret": secret}).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AlertRuleUpdateIn, responses=AlertRuleOut)
    def partial_update(self, request, tenant_slug: str, pk: str):
        rule = selectors.alert_rule_get(tenant=request.tenant, pk=pk)
        data = _validated(AlertRuleUpdateIn, request)
        services.alert_rule_update(rule=rule, actor_membership=request.membership, data=data)
        return Response(AlertRuleOut(selectors.alert_rule_get(tenant=request.tenant, pk=pk)).data)

    def destroy(self, request, tenant_slug: str, pk: str):
        rule = selectors.alert_rule_get(tenant=request.tenant, pk=pk)
        services.alert_rule_delete(rule=rule, actor_membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=AlertRuleSecretOut, summary="Replace the webhook secret")
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def secret_rotate(self, request, tenant_slug: str, pk: str):
        rule = selectors.alert_rule_get(tenant=request.tenant, pk=pk)
        secret = services.alert_rule_secret_rotate(rule=rule, actor_membership=request.membership)
        return Response(AlertRuleSecretOut({"webhook_secret": secret}).data)

    @extend_schema(request=None, responses=TestOutcomeOut(many=True), summary="Send a test notification now")
    @action(detail=True, methods=["post"], url_path="test")
    def notification_test(self, request, tenant_slug: str, pk: str):
        rule = selectors.alert_rule_get(tenant=request.tenant, pk=pk)
        outcomes = alert_deliveries.alert_rule_test_notify(rule=rule, actor_membership=request.membership)
        return Response(TestOutcomeOut(outcomes, many=True).data)


class AlertViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Alerts the tenant's rules raised: firing ones first, then the most recent (filter: state)."""

    serializer_class = AlertOut

    def get_queryset(self):
        filters = _validated(AlertFilterIn, self.request, data=self.request.query_params)
        return selectors.alert_list(tenant=self.request.tenant, state=filters.get("state"))

    @extend_schema(parameters=[AlertFilterIn], responses=AlertOut(many=True))
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses=AlertDetailOut)
    def retrieve(self, request, tenant_slug: str, pk: str):
        return Response(AlertDetailOut(selectors.alert_get(tenant=request.tenant, pk=pk)).data)
