"""The sandboxes' models move here from payment, identity and policy: state only.

Their tables keep their names (`db_table`) and their rows: nothing is created, dropped or copied.
The domain apps' `0002_sandbox_models_move` drop the models from their own state after this one.
The content types follow the models (admin log entries and permissions keep pointing at them).
"""

from django.db import migrations, models

import huibao.core.fields

MOVED = {
    "payment": ["sandboxcheckout"],
    "identity": ["sandboxcitizen", "sandboxfacesession"],
    "policy": ["sandboxinsurerpolicy", "sandboxinsureroutage"],
}


def _relabel(apps, schema_editor, *, forward: bool) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for app_label, names in MOVED.items():
        source, target = (app_label, "sandbox") if forward else ("sandbox", app_label)
        for name in names:
            if not content_type.objects.using(db).filter(app_label=target, model=name).exists():
                content_type.objects.using(db).filter(app_label=source, model=name).update(app_label=target)


def relabel_forward(apps, schema_editor) -> None:
    _relabel(apps, schema_editor, forward=True)


def relabel_backward(apps, schema_editor) -> None:
    _relabel(apps, schema_editor, forward=False)


STATUS_CHOICES = [("open", "Open"), ("paid", "Paid"), ("failed", "Failed"), ("expired", "Expired")]
FACE_CHOICES = [("open", "Open"), ("passed", "Passed"), ("failed", "Failed"), ("expired", "Expired")]


def _id() -> models.BigAutoField:
    return models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("payment", "0001_initial"),
        ("identity", "0001_initial"),
        ("policy", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="SandboxCheckout",
                    fields=[
                        ("id", _id()),
                        ("txn_id", models.CharField(max_length=64, unique=True)),
                        ("merchant_ref", models.CharField(max_length=40)),
                        ("amount_fen", models.PositiveBigIntegerField()),
                        ("refunded_fen", models.PositiveBigIntegerField(default=0)),
                        ("notify_url", models.CharField(max_length=300)),
                        ("expires_at", models.DateTimeField()),
                        ("status", models.CharField(choices=STATUS_CHOICES, default="open", max_length=20)),
                        ("reason", models.CharField(blank=True, max_length=40)),
                        ("payer_name", models.CharField(blank=True, max_length=100)),
                        (
                            "payer_id_number",
                            huibao.core.fields.EncryptedTextField(
                                blank=True, context="payment.sandbox_payer_id_number"
                            ),
                        ),
                        ("card_last4", models.CharField(blank=True, max_length=4)),
                        ("notify_id", models.CharField(blank=True, max_length=64)),
                        (
                            "notify_body",
                            huibao.core.fields.EncryptedTextField(blank=True, context="payment.sandbox_notify_body"),
                        ),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                        ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={"db_table": "payment_sandboxcheckout"},
                ),
                migrations.CreateModel(
                    name="SandboxCitizen",
                    fields=[
                        ("id", _id()),
                        ("id_number_hash", models.CharField(max_length=64, unique=True)),
                        ("name", huibao.core.fields.EncryptedTextField(context="identity.sandbox_citizen.name")),
                        ("registered_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={"db_table": "identity_sandboxcitizen"},
                ),
                migrations.CreateModel(
                    name="SandboxFaceSession",
                    fields=[
                        ("id", _id()),
                        ("token", models.CharField(max_length=64, unique=True)),
                        ("merchant_ref", models.CharField(max_length=64)),
                        ("name", models.CharField(max_length=30)),
                        (
                            "id_number",
                            huibao.core.fields.EncryptedTextField(context="identity.sandbox_face.id_number"),
                        ),
                        ("notify_url", models.CharField(max_length=300)),
                        ("return_url", models.CharField(max_length=300)),
                        ("expires_at", models.DateTimeField()),
                        ("status", models.CharField(choices=FACE_CHOICES, default="open", max_length=20)),
                        ("reason", models.CharField(blank=True, max_length=40)),
                        ("notify_id", models.CharField(blank=True, max_length=64)),
                        ("notify_body", models.TextField(blank=True)),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                        ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={"db_table": "identity_sandboxfacesession"},
                ),
                migrations.CreateModel(
                    name="SandboxInsurerPolicy",
                    fields=[
                        ("id", _id()),
                        ("insurer_code", models.CharField(max_length=32)),
                        ("ref", models.CharField(max_length=40, unique=True)),
                        ("policy_number", models.CharField(max_length=40)),
                        (
                            "payload",
                            huibao.core.fields.EncryptedTextField(context="policy.sandbox_insurer_payload"),
                        ),
                        # The column keeps its first name: the field is named like the other sandboxes'.
                        ("notify_url", models.CharField(db_column="callback_url", max_length=300)),
                        ("notify_id", models.CharField(max_length=64)),
                        ("notify_body", models.TextField()),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                        ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                        ("received_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "db_table": "policy_sandboxinsurerpolicy",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("insurer_code", "policy_number"), name="sandbox_insurer_policy_unique"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="SandboxInsurerOutage",
                    fields=[
                        ("id", _id()),
                        ("insurer_code", models.CharField(max_length=32, unique=True)),
                        ("reason", models.CharField(blank=True, max_length=100)),
                        ("since", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={"db_table": "policy_sandboxinsureroutage"},
                ),
            ],
        ),
        migrations.RunPython(relabel_forward, relabel_backward),
    ]
