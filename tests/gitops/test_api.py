"""The definitions API with a personal access token, as a CI job calls it: export, plan, apply (JSON and tar.gz),
the schema, and the refusals (another tenant 404, a viewer 403, bad files 400 naming file and path)."""

from __future__ import annotations

import io
import tarfile

import pytest
from rest_framework.test import APIClient

from apps.access.services import personal_token_issue
from apps.catalog.models import Plan, Service
from apps.core.models import AuditEvent
from apps.gitops.services import definitions_export, definitions_schema
from apps.gitops.services.archive import files_to_tar_gz
from apps.tenants.models import Role
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.gitops.helpers import counts

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    _, secret = personal_token_issue(user=user, name="ci")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def member(rich_tenant):
    def make(role: str) -> APIClient:
        user = UserFactory(username=f"rich-{role}")
        MembershipFactory(tenant=rich_tenant, user=user, role=role)
        return _client(user)

    return make


def test_export_as_json_and_as_tar_gz(member, rich_tenant):
    admin = member(Role.ADMIN)
    expected = definitions_export(tenant=rich_tenant)

    answer = admin.get("/api/v1/gitops/export", {"tenant": "rich"})
    assert answer.status_code == 200
    assert answer.json() == {"tenant": "rich", "files": expected}

    archive = admin.get("/api/v1/gitops/export", {"tenant": "rich", "archive": "true"})
    assert archive.status_code == 200
    assert archive["Content-Type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
        assert {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()} == expected


def test_plan_and_apply_with_json_files(member, rich_tenant):
    admin = member(Role.OWNER)
    files = definitions_export(tenant=rich_tenant)
    files["services/rich-chat.yaml"] = files["services/rich-chat.yaml"].replace(
        "requests_per_day: 100", "requests_per_day: 7"
    )

    plan = admin.post("/api/v1/gitops/plan", {"files": files}, format="json")
    assert plan.status_code == 200
    body = plan.json()
    assert body["has_changes"] is True
    assert body["summary"] == {"create": 0, "update": 1, "delete": 0}
    assert body["changes"][0]["path"] == "services/rich-chat.yaml"
    assert "+  requests_per_day: 7" in body["changes"][0]["diff"]
    assert Plan.objects.get(slug="free").requests_per_day == 100  # a plan changes nothing

    applied = admin.post("/api/v1/gitops/apply", {"files": files}, format="json")
    assert applied.status_code == 200
    assert applied.json()["has_changes"] is True
    assert Plan.objects.get(slug="free").requests_per_day == 7
    event = AuditEvent.objects.get(action="plan.update")
    assert (event.source, event.actor.username) == ("api", "rich-owner")  # audited as the token's person

    again = admin.post("/api/v1/gitops/plan", {"files": files}, format="json")
    assert again.json()["has_changes"] is False
    assert again.json()["text"].startswith("No changes")


def test_apply_a_tar_gz_body_and_a_multipart_upload_with_prune(member, rich_tenant):
    admin = member(Role.ADMIN)
    files = definitions_export(tenant=rich_tenant)
    for path in ("routes/team%2Fsmart.yaml", "services/rich-chat.yaml", "catalog-info/rich-chat.yaml"):
        del files[path]
    archive = files_to_tar_gz({f"defs/{path}": text for path, text in files.items()})  # one top folder, as tar makes

    plan = admin.post("/api/v1/gitops/plan?prune=true", data=archive, content_type="application/gzip")
    assert plan.status_code == 200, plan.content
    assert plan.json()["summary"] == {"create": 0, "update": 0, "delete": 2}

    upload = io.BytesIO(archive)
    upload.name = "defs.tar.gz"
    applied = admin.post("/api/v1/gitops/apply?prune=true", {"archive": upload}, format="multipart")
    assert applied.status_code == 200, applied.content
    assert not Service.objects.filter(slug="rich-chat").exists()
    assert sorted(definitions_export(tenant=rich_tenant)) == sorted(files)


def test_bad_files_answer_400_naming_file_and_path_and_change_nothing(member, rich_tenant):
    admin = member(Role.ADMIN)
    files = definitions_export(tenant=rich_tenant)
    files["routes/cheap.yaml"] = files["routes/cheap.yaml"].replace("retries: 2", "retries: many")
    files["providers/echo.yaml"] = files["providers/echo.yaml"].replace(
        "api_key: null", "api_key: sk-abcdefghijklmnopqrstu"
    )
    before = counts()

    answer = admin.post("/api/v1/gitops/apply", {"files": files}, format="json")

    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert {"file": "routes/cheap.yaml", "path": "retries", "message": "'many' is not of type 'integer'"} in errors
    assert any(e["file"] == "providers/echo.yaml" and e["path"] == "api_key" for e in errors)
    assert counts() == before


def test_broken_archives_and_bodies_are_400(member):
    admin = member(Role.ADMIN)
    assert admin.post("/api/v1/gitops/plan", data=b"not gzip", content_type="application/gzip").status_code == 400
    assert admin.post("/api/v1/gitops/plan", {"files": "x"}, format="json").status_code == 400
    evil = files_to_tar_gz({"../tenant.yaml": "x"})
    answer = admin.post("/api/v1/gitops/plan", data=evil, content_type="application/gzip")
    assert answer.status_code == 400
    assert "stay inside it" in answer.json()["message"]


def test_another_tenants_member_gets_404_and_changes_nothing(rich_tenant):
    stranger = UserFactory(username="mallory")
    MembershipFactory(tenant=TenantFactory(slug="evil"), user=stranger, role=Role.OWNER)
    client = _client(stranger)
    files = definitions_export(tenant=rich_tenant)
    before = counts()

    assert client.get("/api/v1/gitops/export", {"tenant": "rich"}).status_code == 404
    assert client.get("/api/v1/gitops/export", {"tenant": "no-such"}).status_code == 404
    assert client.post("/api/v1/gitops/plan", {"files": files}, format="json").status_code == 404
    assert client.post("/api/v1/gitops/apply", {"files": files}, format="json").status_code == 404
    assert counts() == before


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_members_below_admin_get_403(member, rich_tenant, role):
    client = member(role)
    files = definitions_export(tenant=rich_tenant)
    assert client.get("/api/v1/gitops/export", {"tenant": "rich"}).status_code == 403
    assert client.post("/api/v1/gitops/plan", {"files": files}, format="json").status_code == 403
    assert client.post("/api/v1/gitops/apply", {"files": files}, format="json").status_code == 403


def test_anonymous_callers_get_401_but_the_schema_is_public(rich_tenant):
    anonymous = APIClient()
    assert anonymous.get("/api/v1/gitops/export", {"tenant": "rich"}).status_code == 401
    assert anonymous.post("/api/v1/gitops/apply", {"files": {}}, format="json").status_code == 401
    schema = anonymous.get("/api/v1/gitops/schema")
    assert schema.status_code == 200
    assert schema.json() == definitions_schema()
    assert set(schema.json()["$defs"]) == {
        "Tenant",
        "Limits",
        "Provider",
        "Route",
        "Service",
        "Prompt",
        "PromptVersion",
        "PromptTests",
    }


def test_oversized_archives_are_refused_before_they_are_unpacked(member):
    admin = member(Role.ADMIN)
    many = files_to_tar_gz({f"notes/{n}.txt": "" for n in range(5001)})

    answer = admin.post("/api/v1/gitops/plan", data=many, content_type="application/gzip")

    assert answer.status_code == 400
    assert answer.json()["message"] == "The archive is too large for a tenant's definitions."


def test_files_of_another_tenant_are_refused_even_with_this_tenants_name_in_the_query(member, rich_tenant):
    admin = member(Role.ADMIN)
    victim = TenantFactory(slug="victim", name="Victim")
    files = definitions_export(tenant=victim)

    for endpoint in ("plan", "apply"):
        answer = admin.post(f"/api/v1/gitops/{endpoint}?tenant=rich", {"files": files}, format="json")
        assert answer.status_code in (400, 403), endpoint
        assert "Victim" not in answer.content.decode()
    assert admin.post("/api/v1/gitops/plan", {"files": files}, format="json").status_code == 404


def test_the_management_api_schema_documents_the_gitops_endpoints(db):
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]

    assert set(paths["/api/v1/gitops/export"]) == {"get"}
    assert set(paths["/api/v1/gitops/schema"]) == {"get"}
    for endpoint in ("plan", "apply"):
        operation = paths[f"/api/v1/gitops/{endpoint}"]["post"]
        assert set(operation["requestBody"]["content"]) == {
            "application/json",
            "multipart/form-data",
            "application/gzip",
        }
        assert operation["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/DefinitionsInvalidOut"
        )
