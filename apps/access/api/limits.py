"""/api/v1/tenants/<t>/limits/: the rate limits, quotas and budgets of the tenant, its apps and its keys."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from apps.access.models import LimitSet
from apps.access.selectors.limits import limit_set_get, limit_set_list, limit_targets_get
from apps.access.services.limits import limit_set_create, limit_set_delete, limit_set_update
from apps.catalog.models import BudgetCurrency
from apps.tenants.api.base import TenantScopedViewSet
from apps.tenants.api.views import _validated
from apps.tenants.models import Role


class LimitSetOut(serializers.ModelSerializer):
    scope = serializers.CharField(read_only=True, help_text="tenant, app or key")
    app = serializers.CharField(source="app.slug", default=None, read_only=True)
    api_key = serializers.CharField(source="api_key.prefix", default=None, read_only=True)
    over_budget_route = serializers.CharField(source="over_budget_route.alias", default=None, read_only=True)

    class Meta:
        model = LimitSet
        fields = [
            "id",
            "scope",
            "app",
            "api_key",
            "requests_per_minute",
            "tokens_per_minute",
            "requests_per_day",
            "requests_per_month",
            "budget_per_day",
            "budget_per_month",
            "budget_currency",
            "budget_alert_percent",
            "over_budget_route",
            "created_at",
            "updated_at",
        ]


def _limit(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, required=False, allow_null=True, help_text=help_text)


def _budget(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True, help_text=help_text
    )


class LimitValuesIn(serializers.Serializer):
    """The values of a limit set; null (or leaving a field out on create) means no limit."""

    requests_per_minute = _limit("requests a minute")
    tokens_per_minute = _limit("prompt and completion tokens a minute")
    requests_per_day = _limit("requests a UTC day")
    requests_per_month = _limit("requests a UTC month")
    budget_per_day = _budget("spend a UTC day, in budget_currency")
    budget_per_month = _budget("spend a UTC month, in budget_currency")
    budget_currency = serializers.ChoiceField(choices=BudgetCurrency.choices, required=False)
    budget_alert_percent = serializers.IntegerField(
        min_value=1, max_value=100, required=False, allow_null=True, help_text="alert at this share of a budget"
    )
    over_budget_route = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=100,
        help_text="alias of a (cheaper) route of the tenant that takes the calls once a budget is reached; "
        "empty: refuse them with 429 budget_exceeded",
    )


class LimitSetCreateIn(LimitValuesIn):
    app = serializers.CharField(required=False, allow_blank=True, max_length=50, help_text="an app's slug")
    api_key = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text="a key's prefix (gwk_…) or id"
    )

    def validate(self, attrs: dict) -> dict:
        if attrs.get("app") and attrs.get("api_key"):
            raise serializers.ValidationError({"api_key": ["Limits apply to an app or to one key, not both."]})
        return attrs


class LimitSetViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Limits of a scope: the tenant (neither `app` nor `api_key`), an app, or a key. Members read them; owners
    and admins change them. The gateway applies a change within a second."""

    serializer_class = LimitSetOut
    write_role = Role.ADMIN

    def get_queryset(self):
        return limit_set_list(tenant=self.request.tenant)

    def _targets(self, data: dict) -> dict:
        """The scope and route names of `data` turned into this tenant's rows (400 naming the field if unknown)."""
        names = {name: data.pop(name) or "" for name in ("app", "api_key", "over_budget_route") if name in data}
        targets = limit_targets_get(tenant=self.request.tenant, **names)
        return {name: getattr(targets, name) for name in names}

    def retrieve(self, request, tenant_slug: str, pk: str):
        return Response(LimitSetOut(limit_set_get(tenant=request.tenant, pk=pk)).data)

    @extend_schema(request=LimitSetCreateIn, responses={201: LimitSetOut})
    def create(self, request, tenant_slug: str):
        data = dict(_validated(LimitSetCreateIn, request.data))
        data.update(self._targets(data))
        limit_set = limit_set_create(tenant=request.tenant, actor_membership=request.membership, **data)
        return Response(LimitSetOut(limit_set).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LimitValuesIn, responses=LimitSetOut)
    def partial_update(self, request, tenant_slug: str, pk: str):
        limit_set = limit_set_get(tenant=request.tenant, pk=pk)
        data = dict(_validated(LimitValuesIn, request.data))
        data.update(self._targets(data))
        limit_set = limit_set_update(limit_set=limit_set, actor_membership=request.membership, data=data)
        return Response(LimitSetOut(limit_set).data)

    def destroy(self, request, tenant_slug: str, pk: str):
        limit_set_delete(limit_set=limit_set_get(tenant=request.tenant, pk=pk), actor_membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)
