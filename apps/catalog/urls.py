from django.urls import path

from apps.catalog import views

app_name = "catalog"
urlpatterns = [
    path("catalog/", views.service_list, name="service-list"),
    path("catalog/<slug:slug>/", views.service_detail, name="service-detail"),
]
