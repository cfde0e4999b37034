"""The audit head keeps the latest entry time sealed so far, so the sealer can refuse an entry
dated more than the allowed clock skew before it (see `huibao.core.audit.seal_pending`). Filled
from the entries already sealed; going back drops the column."""

from django.db import migrations, models
from django.db.models import Max


def fill_newest(apps, schema_editor):
    AuditHead = apps.get_model("core", "AuditHead")
    AuditEntry = apps.get_model("core", "AuditEntry")
    newest = AuditEntry.objects.filter(seq__isnull=False).aggregate(at=Max("occurred_at"))["at"]
    # A plain UPDATE of the head (the entries themselves are not touched).
    AuditHead.objects.filter(pk=1).update(newest_occurred_at=newest)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_audit_sealed_after_commit"),
    ]

    operations = [
        migrations.AddField(
            model_name="audithead",
            name="newest_occurred_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(fill_newest, migrations.RunPython.noop),
    ]
