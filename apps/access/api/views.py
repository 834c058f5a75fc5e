from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.access.api.serializers import (
    ApiKeyCreateIn,
    ApiKeyIssuedOut,
    ApiKeyOut,
    AppCreateIn,
    AppManagerIn,
    AppOut,
    AppUpdateIn,
    NotificationFilterIn,
    NotificationOut,
    PersonalTokenCreateIn,
    PersonalTokenIssuedOut,
    PersonalTokenOut,
    SubscriptionApprovalOut,
    SubscriptionApproveIn,
    SubscriptionFilterIn,
    SubscriptionOut,
    SubscriptionReasonIn,
    SubscriptionRenewIn,
    SubscriptionRequestIn,
)
from apps.access.models import PersonalAccessToken
from apps.access.selectors import (
    api_key_get,
    api_key_list,
    app_get,
    app_list,
    personal_token_get,
    personal_token_list,
    subscription_get_for_app_tenant,
    subscription_get_for_approver,
    subscription_get_for_tenant,
    subscription_list_for_app_tenant,
    subscription_list_for_approver,
    subscription_targets_get,
)
from apps.access.services import (
    api_key_issue,
    api_key_revoke,
    app_create,
    app_delete,
    app_manager_grant,
    app_manager_revoke,
    app_update,
    personal_token_issue,
    subscription_approve,
    subscription_cancel,
    subscription_reject,
    subscription_renew,
    subscription_request,
    subscription_resume,
    subscription_revoke,
    subscription_suspend,
    token_revoke,
)
from apps.core.selectors import notification_get, notification_list
from apps.core.services import notification_mark_all_read, notification_mark_read
from apps.tenants.api.base import TenantScopedViewSet
from apps.tenants.api.views import _validated
from apps.tenants.models import Role


class AppViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """The tenant's consumer apps. Developers create apps; who manages one is a per-app right."""

    serializer_class = AppOut
    lookup_field = "slug"
    write_role = Role.DEVELOPER  # viewers are refused before their input is even read

    def get_queryset(self):
        return app_list(tenant=self.request.tenant)

    def retrieve(self, request, tenant_slug: str, slug: str):
        return Response(AppOut(app_get(tenant=request.tenant, slug=slug)).data)

    @extend_schema(request=AppCreateIn, responses={201: AppOut})
    def create(self, request, tenant_slug: str):
        data = _validated(AppCreateIn, request.data)
        app = app_create(tenant=request.tenant, actor_membership=request.membership, **data)
        return Response(AppOut(app).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AppUpdateIn, responses=AppOut)
    def partial_update(self, request, tenant_slug: str, slug: str):
        app = app_get(tenant=request.tenant, slug=slug)
        app = app_update(app=app, actor_membership=request.membership, data=_validated(AppUpdateIn, request.data))
        return Response(AppOut(app).data)

    def destroy(self, request, tenant_slug: str, slug: str):
        app_delete(app=app_get(tenant=request.tenant, slug=slug), actor_membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=AppManagerIn, responses={204: None})
    @action(detail=True, methods=["post"], url_path="managers")
    def managers_add(self, request, tenant_slug: str, slug: str):
        app = app_get(tenant=request.tenant, slug=slug)
        data = _validated(AppManagerIn, request.data)
        app_manager_grant(app=app, actor_membership=request.membership, **data)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"managers/(?P<username>[^/]+)")
    def managers_remove(self, request, tenant_slug: str, slug: str, username: str):
        app = app_get(tenant=request.tenant, slug=slug)
        app_manager_revoke(app=app, username=username, actor_membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Keys of one app. The secret is returned once, by create."""

    serializer_class = ApiKeyOut
    write_role = Role.DEVELOPER

    def get_app(self):
        return app_get(tenant=self.request.tenant, slug=self.kwargs["app_slug"])

    def get_queryset(self):
        return api_key_list(app=self.get_app())

    def retrieve(self, request, tenant_slug: str, app_slug: str, pk: str):
        return Response(ApiKeyOut(api_key_get(app=self.get_app(), pk=pk)).data)

    @extend_schema(request=ApiKeyCreateIn, responses={201: ApiKeyIssuedOut})
    def create(self, request, tenant_slug: str, app_slug: str):
        data = _validated(ApiKeyCreateIn, request.data)
        key, secret = api_key_issue(app=self.get_app(), actor_membership=request.membership, **data)
        return Response(ApiKeyIssuedOut(key, context={"secret": secret}).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApiKeyOut)
    @action(detail=True, methods=["post"])
    def revoke(self, request, tenant_slug: str, app_slug: str, pk: str):
        key = api_key_revoke(key=api_key_get(app=self.get_app(), pk=pk), actor_membership=request.membership)
        return Response(ApiKeyOut(key).data)


class PersonalTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's personal access tokens for scripts and CI (`Authorization: Bearer gwp_…`)."""

    serializer_class = PersonalTokenOut
    lookup_value_regex = r"[^/]+"

    def get_queryset(self):
        return personal_token_list(user=self.request.user)

    @extend_schema(request=PersonalTokenCreateIn, responses={201: PersonalTokenIssuedOut})
    def create(self, request):
        actor_token = request.auth if isinstance(request.auth, PersonalAccessToken) else None
        data = _validated(PersonalTokenCreateIn, request.data)
        token, secret = personal_token_issue(user=request.user, actor_token=actor_token, **data)
        return Response(PersonalTokenIssuedOut(token, context={"secret": secret}).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk: str):
        token_revoke(token=personal_token_get(user=request.user, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubscriptionViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Subscriptions of the tenant's apps. Whoever manages an app requests a plan of a service for it."""

    serializer_class = SubscriptionOut
    write_role = Role.DEVELOPER

    def get_queryset(self):
        filters = _validated(SubscriptionFilterIn, self.request.query_params)
        return subscription_list_for_app_tenant(tenant=self.request.tenant, filters=filters)

    @extend_schema(parameters=[SubscriptionFilterIn], responses=SubscriptionOut(many=True))
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, tenant_slug: str, pk: str):
        return Response(SubscriptionOut(subscription_get_for_tenant(tenant=request.tenant, pk=pk)).data)

    @extend_schema(request=SubscriptionRequestIn, responses={201: SubscriptionOut})
    def create(self, request, tenant_slug: str):
        data = dict(_validated(SubscriptionRequestIn, request.data))
        purpose = data.pop("purpose")
        targets = subscription_targets_get(tenant=request.tenant, **data)
        subscription = subscription_request(**targets, purpose=purpose, actor_membership=request.membership)
        return Response(SubscriptionOut(subscription).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=SubscriptionOut)
    @action(detail=True, methods=["post"])
    def cancel(self, request, tenant_slug: str, pk: str):
        """Withdraw a pending request of one of the tenant's apps, or unsubscribe it from the service."""
        subscription = subscription_get_for_app_tenant(tenant=request.tenant, pk=pk)
        return Response(
            SubscriptionOut(subscription_cancel(subscription=subscription, actor_membership=request.membership)).data
        )


class ApprovalViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Subscriptions to the tenant's services (`?status=pending`: the approval queue), each with its projected
    monthly cost. Owners and admins decide, as do holders of catalog.approve_subscription on the service."""

    serializer_class = SubscriptionApprovalOut

    def get_queryset(self):
        filters = _validated(SubscriptionFilterIn, self.request.query_params)
        return subscription_list_for_approver(tenant=self.request.tenant, filters=filters)

    def get_object(self):
        return subscription_get_for_approver(tenant=self.request.tenant, pk=self.kwargs["pk"])

    @extend_schema(parameters=[SubscriptionFilterIn], responses=SubscriptionApprovalOut(many=True))
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, tenant_slug: str, pk: str):
        return Response(SubscriptionApprovalOut(self.get_object()).data)

    def _decide(self, service, serializer_class=None) -> Response:
        data = _validated(serializer_class, self.request.data) if serializer_class else {}
        subscription = service(subscription=self.get_object(), actor_membership=self.request.membership, **data)
        return Response(SubscriptionOut(subscription).data)

    @extend_schema(request=SubscriptionApproveIn, responses=SubscriptionOut)
    @action(detail=True, methods=["post"])
    def approve(self, request, tenant_slug: str, pk: str):
        return self._decide(subscription_approve, SubscriptionApproveIn)

    @extend_schema(request=SubscriptionReasonIn, responses=SubscriptionOut)
    @action(detail=True, methods=["post"])
    def reject(self, request, tenant_slug: str, pk: str):
        return self._decide(subscription_reject, SubscriptionReasonIn)

    @extend_schema(request=SubscriptionReasonIn, responses=SubscriptionOut)
    @action(detail=True, methods=["post"])
    def suspend(self, request, tenant_slug: str, pk: str):
        return self._decide(subscription_suspend, SubscriptionReasonIn)

    @extend_schema(request=None, responses=SubscriptionOut)
    @action(detail=True, methods=["post"])
    def resume(self, request, tenant_slug: str, pk: str):
        return self._decide(subscription_resume)

    @extend_schema(request=SubscriptionReasonIn, responses=SubscriptionOut)
    @action(detail=True, methods=["post"])
    def revoke(self, request, tenant_slug: str, pk: str):
        return self._decide(subscription_revoke, SubscriptionReasonIn)

    @extend_schema(request=SubscriptionRenewIn, responses=SubscriptionOut)
    @action(detail=True, methods=["post"])
    def renew(self, request, tenant_slug: str, pk: str):
        return self._decide(subscription_renew, SubscriptionRenewIn)


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's in-app notifications (subscription requests and decisions), newest first."""

    serializer_class = NotificationOut
    lookup_value_regex = r"[^/]+"

    def get_queryset(self):
        filters = _validated(NotificationFilterIn, self.request.query_params)
        return notification_list(user=self.request.user, unread_only=filters["unread"])

    @extend_schema(parameters=[NotificationFilterIn], responses=NotificationOut(many=True))
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=NotificationOut)
    @action(detail=True, methods=["post"])
    def read(self, request, pk: str):
        notification = notification_mark_read(notification=notification_get(user=request.user, pk=pk))
        return Response(NotificationOut(notification).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        notification_mark_all_read(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
