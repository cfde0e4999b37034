"""The 批单 PDFs rendered before esign had a kind of their own were filed as e-policies: file
them under "endorsement" (the documents the endorsements point at, nothing else)."""

from django.db import migrations


def forwards(apps, schema_editor):
    Endorsement = apps.get_model("policy", "Endorsement")
    SignedDocument = apps.get_model("esign", "SignedDocument")
    ids = Endorsement.objects.filter(document__isnull=False).values("document_id")
    SignedDocument.objects.filter(pk__in=ids, kind="epolicy").update(kind="endorsement")


def backwards(apps, schema_editor):
    Endorsement = apps.get_model("policy", "Endorsement")
    SignedDocument = apps.get_model("esign", "SignedDocument")
    ids = Endorsement.objects.filter(document__isnull=False).values("document_id")
    SignedDocument.objects.filter(pk__in=ids, kind="endorsement").update(kind="epolicy")


class Migration(migrations.Migration):
    dependencies = [
        ("esign", "0002_endorsement_kind"),
        ("policy", "0009_status_sweep_indexes"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
