from django.urls import path

from apps.catalog import views

app_name = "catalog"
urlpatterns = [
    path("catalog/", views.service_list, name="service-list"),
    path("catalog/<slug:slug>/", views.service_detail, name="service-detail"),
    path("catalog/<slug:slug>/openapi/", views.service_openapi, name="service-openapi"),
    path("catalog/<slug:slug>/openapi.json", views.service_openapi_json, name="service-openapi-json"),
]
