"""The providers app's writes: providers and models (providers.py), routes and deployments (routes.py), and where
apps above it take part in them (ports.py)."""

from apps.providers.services.base import ProviderUnavailable
from apps.providers.services.ports import route_reference_finder_register
from apps.providers.services.providers import (
    CONNECTION_TEST_TIMEOUT,
    model_create,
    model_delete,
    model_update,
    provider_create,
    provider_delete,
    provider_fetch_models,
    provider_sync_models,
    provider_test_connection,
    provider_update,
)
from apps.providers.services.routes import (
    deployment_add,
    deployment_remove,
    deployment_update,
    route_create,
    route_delete,
    route_update,
)

__all__ = [
    "CONNECTION_TEST_TIMEOUT",
    "ProviderUnavailable",
    "deployment_add",
    "deployment_remove",
    "deployment_update",
    "model_create",
    "model_delete",
    "model_update",
    "provider_create",
    "provider_delete",
    "provider_fetch_models",
    "provider_sync_models",
    "provider_test_connection",
    "provider_update",
    "route_create",
    "route_delete",
    "route_reference_finder_register",
    "route_update",
]
