"""A short quote number (Q + date + 6 characters) beside the UUID, given to existing quotes too."""

import secrets
import zoneinfo

from django.db import migrations, models

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BEIJING = zoneinfo.ZoneInfo("Asia/Shanghai")


def number_existing(apps, schema_editor):
    Quote = apps.get_model("rating", "Quote")
    taken = set()
    for quote in Quote.objects.filter(number__isnull=True).only("id", "created_at").iterator():
        while True:
            tail = "".join(secrets.choice(ALPHABET) for _ in range(6))
            number = f"Q{quote.created_at.astimezone(BEIJING):%Y%m%d}{tail}"
            if number not in taken:
                break
        taken.add(number)
        Quote.objects.filter(pk=quote.pk).update(number=number)


class Migration(migrations.Migration):
    dependencies = [
        ("rating", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="quote",
            name="number",
            field=models.CharField(blank=True, editable=False, max_length=20, null=True, unique=True),
        ),
        migrations.RunPython(number_existing, migrations.RunPython.noop, elidable=True),
    ]
