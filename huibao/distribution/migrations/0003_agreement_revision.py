"""The agreement revision counter (`AgreementRevision`), and the database triggers that move it
in the same transaction as any change to an agreement or to the products it lists — whoever
writes them (services, the admin, `QuerySet.update`, bulk inserts, raw SQL). Caches of agreement
reads compare it on every call (`distribution.selectors.agreement_revision`).

PostgreSQL: one statement-level trigger per table (one counter update per statement, however
many rows). SQLite: row-level triggers (SQLite has no other kind). Both insert the row when it is
missing (a flushed test database), so the counter never stops moving.
"""

from django.db import migrations, models

REVISION = "distribution_agreementrevision"
TABLES = ("distribution_insureragreement", "distribution_insureragreement_products")

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION distribution_bump_agreement_revision() RETURNS trigger AS $$
BEGIN
    INSERT INTO {REVISION} (id, counter) VALUES (1, 1)
        ON CONFLICT (id) DO UPDATE SET counter = {REVISION}.counter + 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def _pg_trigger(table: str) -> str:
    return (
        f"CREATE TRIGGER {table}_revision AFTER INSERT OR UPDATE OR DELETE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION distribution_bump_agreement_revision()"
    )


def _sqlite_trigger(table: str, event: str) -> str:
    return (
        f"CREATE TRIGGER {table}_revision_{event.lower()} AFTER {event} ON {table} BEGIN "
        f"INSERT OR IGNORE INTO {REVISION} (id, counter) VALUES (1, 0); "
        f"UPDATE {REVISION} SET counter = counter + 1 WHERE id = 1; END"
    )


EVENTS = ("INSERT", "UPDATE", "DELETE")


def add_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
        for table in TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_revision ON {table}", params=None)
            schema_editor.execute(_pg_trigger(table), params=None)
    elif vendor == "sqlite":
        for table in TABLES:
            for event in EVENTS:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_revision_{event.lower()}", params=None)
                schema_editor.execute(_sqlite_trigger(table, event), params=None)
    AgreementRevision = apps.get_model("distribution", "AgreementRevision")
    AgreementRevision.objects.using(schema_editor.connection.alias).get_or_create(pk=1)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_revision ON {table}", params=None)
        schema_editor.execute("DROP FUNCTION IF EXISTS distribution_bump_agreement_revision()", params=None)
    elif vendor == "sqlite":
        for table in TABLES:
            for event in EVENTS:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_revision_{event.lower()}", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("distribution", "0002_sales_unit_path_changes"),
    ]

    operations = [
        migrations.CreateModel(
            name="AgreementRevision",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("counter", models.PositiveBigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(add_triggers, drop_triggers),
    ]
