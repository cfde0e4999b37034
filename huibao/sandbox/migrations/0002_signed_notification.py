"""The sandboxes' notification fields come from one abstract model (`SignedNotification`): the
insurer's notify id and body take the others' `blank=True`, which only forms read. No column
changes (Django emits no SQL for `blank`); the rows stay as they are."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="sandboxinsurerpolicy",
            name="notify_body",
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name="sandboxinsurerpolicy",
            name="notify_id",
            field=models.CharField(blank=True, max_length=64),
        ),
    ]
