"""The explicit policy lifecycle: the new statuses, and each policy's status history.

Order matters: the old status check is dropped and the column widened first, the former
'cancelled' policies become 'surrendered' (servicing never cancelled in the cooling-off period
before this: every cancellation was a surrender) and every policy gets its first history row
(its current status at its effective date, reason "issued") — only then is the new check added.
Plain ORM and bulk inserts in batches: the same on SQLite and PostgreSQL.
"""

from django.db import migrations, models

BATCH = 1000


def forwards(apps, schema_editor):
    Policy = apps.get_model("policy", "Policy")
    PolicyStatusChange = apps.get_model("policy", "PolicyStatusChange")
    db = schema_editor.connection.alias
    Policy.objects.using(db).filter(status="cancelled").update(status="surrendered")
    rows = []
    for pk, status, effective_at in (
        Policy.objects.using(db).order_by("pk").values_list("pk", "status", "effective_at").iterator(BATCH)
    ):
        rows.append(
            PolicyStatusChange(
                policy_id=pk,
                from_status="",
                to_status=status,
                reason="issued",
                at=effective_at,
                actor="migration",
            )
        )
        if len(rows) >= BATCH:
            PolicyStatusChange.objects.using(db).bulk_create(rows)
            rows = []
    if rows:
        PolicyStatusChange.objects.using(db).bulk_create(rows)
    if schema_editor.connection.vendor == "postgresql":
        # The history rows' deferred foreign-key checks run now: PostgreSQL refuses to alter a
        # table with pending trigger events.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


# Back to the four statuses of 0003 (the history table is dropped by the schema step).
BACKWARDS = {
    "in_grace": "in_force",
    "reinstated": "in_force",
    "lapsed": "in_force",
    "cancelled_cooling_off": "cancelled",
    "surrendered": "cancelled",
    "terminated": "cancelled",
}


def backwards(apps, schema_editor):
    Policy = apps.get_model("policy", "Policy")
    db = schema_editor.connection.alias
    for new, old in BACKWARDS.items():
        Policy.objects.using(db).filter(status=new).update(status=old)


class Migration(migrations.Migration):
    dependencies = [
        ("policy", "0003_parties_and_references"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="policy",
            name="policy_status_valid",
        ),
        migrations.AlterField(
            model_name="policy",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending_start", "待生效"),
                    ("in_force", "保障中"),
                    ("in_grace", "宽限期"),
                    ("lapsed", "已失效（中止）"),
                    ("reinstated", "已复效"),
                    ("expired", "已满期"),
                    ("cancelled_cooling_off", "犹豫期退保"),
                    ("surrendered", "已退保"),
                    ("terminated", "已终止"),
                ],
                default="pending_start",
                max_length=24,
            ),
        ),
        migrations.CreateModel(
            name="PolicyStatusChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("from_status", models.CharField(blank=True, default="", max_length=24)),
                (
                    "to_status",
                    models.CharField(
                        choices=[
                            ("pending_start", "待生效"),
                            ("in_force", "保障中"),
                            ("in_grace", "宽限期"),
                            ("lapsed", "已失效（中止）"),
                            ("reinstated", "已复效"),
                            ("expired", "已满期"),
                            ("cancelled_cooling_off", "犹豫期退保"),
                            ("surrendered", "已退保"),
                            ("terminated", "已终止"),
                        ],
                        max_length=24,
                    ),
                ),
                ("reason", models.CharField(max_length=40)),
                ("note", models.CharField(blank=True, default="", max_length=200)),
                ("at", models.DateTimeField()),
                ("actor", models.CharField(blank=True, default="", max_length=64)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "verbose_name": "保单状态变更",
                "verbose_name_plural": "保单状态变更",
                "ordering": ["at", "id"],
            },
        ),
        migrations.AddField(
            model_name="policystatuschange",
            name="policy",
            field=models.ForeignKey(
                on_delete=models.deletion.CASCADE, related_name="status_changes", to="policy.policy"
            ),
        ),
        migrations.AddIndex(
            model_name="policystatuschange",
            index=models.Index(fields=["policy", "at"], name="policy_status_change_at"),
        ),
        migrations.AddConstraint(
            model_name="policystatuschange",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "to_status__in",
                        [
                            "pending_start",
                            "in_force",
                            "in_grace",
                            "lapsed",
                            "reinstated",
                            "expired",
                            "cancelled_cooling_off",
                            "surrendered",
                            "terminated",
                        ],
                    )
                ),
                name="policy_status_change_to_valid",
            ),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.AddConstraint(
            model_name="policy",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        [
                            "pending_start",
                            "in_force",
                            "in_grace",
                            "lapsed",
                            "reinstated",
                            "expired",
                            "cancelled_cooling_off",
                            "surrendered",
                            "terminated",
                        ],
                    )
                ),
                name="policy_status_valid",
            ),
        ),
    ]
