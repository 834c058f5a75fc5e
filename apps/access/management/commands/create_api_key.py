from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.access.models import ApiKeyScope, App
from apps.access.services import api_key_issue, app_create
from apps.core.audit import AuditContext, audit_context
from apps.core.errors import ApplicationError
from apps.tenants.models import Membership, Role, Tenant


class Command(BaseCommand):
    help = "Issue an API key for an app and print only its secret on stdout (shown once, never stored)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--app", required=True, help="app slug")
        parser.add_argument("--create-app", action="store_true", help="create the app first if it does not exist")
        parser.add_argument("--name", default="cli", help="a name for the key (default: cli)")
        parser.add_argument(
            "--scope", action="append", choices=ApiKeyScope.values, help="repeat for several (default: all)"
        )

    def handle(self, *args, tenant: str, app: str, create_app: bool, name: str, scope: list | None, **options):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"No tenant with slug {tenant!r}.")
        with audit_context(AuditContext(source="cli", actor_label="manage.py create_api_key")), transaction.atomic():
            app_obj = App.objects.filter(tenant=tenant_obj, slug=app).first()
            try:
                if app_obj is None:
                    if not create_app:
                        raise CommandError(f"No app {app!r} in tenant {tenant!r} (use --create-app to create it).")
                    owner = Membership.objects.filter(tenant=tenant_obj, role=Role.OWNER).first()
                    if owner is None:
                        raise CommandError(f"Tenant {tenant!r} has no owner to create the app as.")
                    app_obj = app_create(tenant=tenant_obj, actor_membership=owner, slug=app, name=app)
                _, plaintext = api_key_issue(app=app_obj, name=name, actor_membership=None, scopes=scope)
            except ApplicationError as exc:
                raise CommandError(f"{exc.field or 'error'}: {exc.message}") from None
            except ValidationError as exc:  # model validation (full_clean), e.g. an app slug with spaces
                raise CommandError("; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items())) from None
        self.stdout.write(plaintext)
