"""The consumer's panels of a service's page, in the access namespace (included by apps/access/urls.py)."""

from django.urls import path

from apps.access.views_subscribe import service_subscribe
from apps.access.views_try_it import service_try_it

urlpatterns = [
    path("catalog/<slug:slug>/subscribe/", service_subscribe, name="service-subscribe"),
    path("catalog/<slug:slug>/try-it/", service_try_it, name="service-try-it"),
]
