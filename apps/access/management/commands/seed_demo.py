from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.access.demo import demo_services_seed
from apps.access.models import App
from apps.access.services import app_create
from apps.core.audit import AuditContext, audit_context
from apps.providers.env_providers import env_providers_register
from apps.providers.models import Provider, Route
from apps.providers.services import deployment_add, model_create, provider_create, route_create
from apps.tenants.models import Membership, Role, Tenant
from apps.tenants.services import tenant_create

DEMO_USERS = [  # (username, tenant slug, role)
    ("olivia", "demo", Role.OWNER),
    ("adam", "demo", Role.ADMIN),
    ("dev", "demo", Role.DEVELOPER),
    ("vic", "demo", Role.VIEWER),
    ("grace", "globex", Role.OWNER),
]
DEMO_TENANTS = {"demo": "Demo Company", "globex": "Globex Corporation"}
PASSWORD_FILE = Path(settings.VAR_DIR) / "demo-admin-password"


def demo_password() -> str:
    """DEMO_ADMIN_PASSWORD, or a random one made on the first run and kept in var/ (git-ignored)."""
    if os.environ.get("DEMO_ADMIN_PASSWORD"):
        return os.environ["DEMO_ADMIN_PASSWORD"]
    if PASSWORD_FILE.exists():
        return PASSWORD_FILE.read_text().strip()
    PASSWORD_FILE.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    PASSWORD_FILE.write_text(password + "\n")
    PASSWORD_FILE.chmod(0o600)
    return password


class Command(BaseCommand):
    help = "Create the demo data (idempotent): admin, tenants demo and globex, a user per role, demo-app."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="where the portal is served")

    def handle(self, *args, url: str, **options) -> None:
        password = demo_password()
        with audit_context(AuditContext(source="cli", actor_label="manage.py seed_demo")), transaction.atomic():
            admin_created = self._user("admin", password, superuser=True)
            for username, _, _ in DEMO_USERS:
                self._user(username, password)
            for slug, name in DEMO_TENANTS.items():
                self._tenant(slug, name)
            for username, slug, role in DEMO_USERS:
                Membership.objects.update_or_create(
                    user=get_user_model().objects.get(username=username),
                    tenant=Tenant.objects.get(slug=slug),
                    defaults={"role": role},
                )
            demo = Tenant.objects.get(slug="demo")
            if not App.objects.filter(tenant=demo, slug="demo-app").exists():
                owner = Membership.objects.get(tenant=demo, user__username="olivia")
                app_create(tenant=demo, actor_membership=owner, slug="demo-app", name="Demo app")
            self._echo_route(demo)
            olivia = Membership.objects.get(tenant=demo, user__username="olivia")
            demo_services_seed(
                owner=olivia,
                route=Route.objects.get(tenant=demo, alias="echo"),
                app=App.objects.get(tenant=demo, slug="demo-app"),
            )
        self._env_providers(Tenant.objects.get(slug="demo"))
        admin = get_user_model().objects.get(username="admin")
        shown = password if admin.check_password(password) else "(changed since it was seeded)"
        self.stdout.write(
            f"\nAI gateway portal: {url}/\n"
            f"  log in at {url}/accounts/login/ as admin / {shown}"
            f"{'  (new)' if admin_created else ''}\n"
            f"  demo users olivia (owner), adam (admin), dev (developer), vic (viewer) in 'demo' and grace (owner) in\n"
            f"  'globex' share the same password\n"
            f"  API docs: {url}/api/docs/   admin: {url}/admin/\n"
            f"  a key for demo-app: python manage.py create_api_key --tenant demo --app demo-app\n"
            f"  then: curl {url}/v1/chat/completions -H 'Authorization: Bearer <key>' "
            f'-H \'Content-Type: application/json\' -d \'{{"model": "echo", "messages": '
            f'[{{"role": "user", "content": "Hello"}}]}}\'\n'
        )

    def _user(self, username: str, password: str, superuser: bool = False) -> bool:
        user_model = get_user_model()
        if user_model.objects.filter(username=username).exists():
            return False
        if superuser:
            user_model.objects.create_superuser(username, f"{username}@example.com", password)
        else:
            user_model.objects.create_user(username, f"{username}@example.com", password)
        return True

    def _tenant(self, slug: str, name: str) -> None:
        if not Tenant.objects.filter(slug=slug).exists():
            tenant_create(slug=slug, name=name, owner=get_user_model().objects.get(username="admin"))

    def _echo_route(self, tenant: Tenant) -> None:
        """The built-in local provider, so a new user gets answers offline."""
        if Provider.objects.filter(tenant=tenant, slug="echo").exists():
            return
        provider = provider_create(tenant=tenant, actor_membership=None, slug="echo", name="Echo (local)", kind="echo")
        model = model_create(
            provider=provider, actor_membership=None, name="echo", upstream_id="echo", modalities=["text", "embedding"]
        )
        route = route_create(tenant=tenant, actor_membership=None, alias="echo", description="Answers from the request")
        deployment_add(route=route, model=model, actor_membership=None)

    def _env_providers(self, tenant: Tenant) -> None:
        """A provider for each kind whose standard credential variables are set, kept up to date with them."""
        with audit_context(AuditContext(source="cli", actor_label="manage.py seed_demo")):
            outcomes = env_providers_register(tenant=tenant, environ=os.environ)
        for outcome in outcomes:
            if outcome.action == "skipped":
                self.stderr.write(f"  {outcome.name}: {outcome.problem}")
            elif outcome.problem:
                self.stderr.write(f"  {outcome.name} ({outcome.action}): {outcome.problem}; sync it later")
            elif outcome.action == "unchanged":
                self.stdout.write(f"  {outcome.name}: unchanged since the last start")
            else:
                self.stdout.write(
                    f"  {outcome.name} ({outcome.action}): imported {outcome.imported} model(s), "
                    f"published {outcome.routes} route(s)"
                )
