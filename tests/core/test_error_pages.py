"""Error pages: 403, 404 and 500 in the portal's own layout, and a refusal is logged as one line, not a crash."""

from __future__ import annotations

import logging

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error

from apps.tenants.models import Role

pytestmark = pytest.mark.django_db


def test_a_refused_page_says_which_role_to_ask_for_and_whom(client_for, members):
    response = client_for(members[Role.VIEWER].user).get("/members/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "This page needs the admin role in Acme; yours is viewer." in page
    assert "Ask an owner or admin of Acme for the admin role." in page
    assert "/static/vendor/pico/pico.min.css" in page  # base.html


def test_a_refusal_is_logged_as_a_warning_without_a_traceback(client_for, members, caplog):
    caplog.set_level(logging.INFO, logger="django.request")
    assert client_for(members[Role.DEVELOPER].user).get("/audit/").status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert record.getMessage() == (
        "Forbidden (Permission denied): /audit/: This page needs the admin role in Acme; yours is developer. "
        "Ask an owner or admin of Acme for the admin role."
    )
    assert "Traceback" not in caplog.text


def test_a_page_that_does_not_exist_is_the_portals_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Not found" in page
    assert "/static/vendor/pico/pico.min.css" in page


def test_a_server_error_is_the_portals_500_page_and_needs_no_request_context():
    """Django renders 500.html with an empty context (no user, no request, maybe no database)."""
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    assert "/static/vendor/pico/pico.min.css" in page
