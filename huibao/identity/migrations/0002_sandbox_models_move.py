"""The sandbox models now belong to the `sandbox` app: dropped from this app's state only.

The tables stay, with their rows (see `sandbox/migrations/0001_initial.py`).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0001_initial"),
        ("sandbox", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="SandboxCitizen"),
                migrations.DeleteModel(name="SandboxFaceSession"),
            ],
        ),
    ]
