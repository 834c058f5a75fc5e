from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0002_tenant_require_internal_subscriptions"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="limits_fail_open",
            field=models.BooleanField(
                default=True,
                help_text="limit store (Redis) unreachable: serve calls unlimited (on) or refuse them with 503",
            ),
        ),
    ]
