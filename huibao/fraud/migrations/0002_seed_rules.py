"""Version 1 of every rule registered in code (fraud/rules.py), with its defaults. A rule added
later gets its row from a data migration of its own calling the same `seed_rule_rows`."""

from typing import Any

from django.db import migrations


def seed(apps: Any, schema_editor: Any) -> None:
    from huibao.fraud.services import seed_rule_rows

    seed_rule_rows(apps.get_model("fraud", "FraudRule"), using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("fraud", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
