from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _local_webhook_receivers(settings):
    """The webhook receivers of these tests listen on 127.0.0.1, which production refuses by default
    (tests/analytics/test_alert_deliveries.py checks that refusal with the setting off)."""
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
