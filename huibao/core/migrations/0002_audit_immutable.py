"""The audit log's database guards: the head row, and on PostgreSQL a trigger that refuses
UPDATE and DELETE on audit entries whatever the client (the model refuses them in Python).

TRUNCATE is deliberately not blocked: Django's test runner empties tables with it.
"""

from django.db import migrations

TRIGGER_SQL = [
    """
CREATE OR REPLACE FUNCTION core_auditentry_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'core_auditentry is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
""",
    "DROP TRIGGER IF EXISTS core_auditentry_immutable ON core_auditentry",
    """
CREATE TRIGGER core_auditentry_immutable
    BEFORE UPDATE OR DELETE ON core_auditentry
    FOR EACH ROW EXECUTE FUNCTION core_auditentry_refuse_change()
""",
]

DROP_SQL = [
    "DROP TRIGGER IF EXISTS core_auditentry_immutable ON core_auditentry",
    "DROP FUNCTION IF EXISTS core_auditentry_refuse_change()",
]


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in TRIGGER_SQL:
            # params=None: the '%' in the function body is not a placeholder.
            schema_editor.execute(statement, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP_SQL:
            schema_editor.execute(statement, params=None)


def create_head(apps, schema_editor):
    AuditHead = apps.get_model("core", "AuditHead")
    AuditHead.objects.using(schema_editor.connection.alias).get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [
        migrations.RunPython(add_trigger, drop_trigger),
        migrations.RunPython(create_head, migrations.RunPython.noop),
    ]
