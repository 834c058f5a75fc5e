from django.urls import path, re_path

from apps.catalog import views

app_name = "catalog"
urlpatterns = [
    path("catalog/", views.service_list, name="service-list"),
    path("catalog/<slug:slug>/", views.service_detail, name="service-detail"),
    path("catalog/<slug:slug>/openapi/", views.service_openapi, name="service-openapi"),
    path("catalog/<slug:slug>/openapi.json", views.service_openapi_json, name="service-openapi-json"),
    # Publishing: the tenant's own services. A service's pages hang under its catalog address.
    path("services/", views.own_service_list, name="own-service-list"),
    path("services/new/", views.service_create, name="service-create"),
    path("services/preview/", views.markdown_preview, name="markdown-preview"),
    path("catalog/<slug:slug>/manage/", views.service_manage, name="service-manage"),
    path("catalog/<slug:slug>/edit/", views.service_edit, name="service-edit"),
    re_path(
        r"^catalog/(?P<slug>[-a-zA-Z0-9_]+)/(?P<move>publish|deprecate|retire)/$",
        views.service_lifecycle,
        name="service-lifecycle",
    ),
    path("catalog/<slug:slug>/plans/", views.plan_create, name="plan-create"),
    path("catalog/<slug:slug>/plans/<slug:plan_slug>/", views.plan_edit, name="plan-edit"),
    path("catalog/<slug:slug>/plans/<slug:plan_slug>/delete/", views.plan_delete, name="plan-delete"),
    path("catalog/<slug:slug>/prompt-editors/", views.prompt_editor_grant, name="prompt-editor-grant"),
    path("catalog/<slug:slug>/prompt-editors/revoke/", views.prompt_editor_revoke, name="prompt-editor-revoke"),
]
