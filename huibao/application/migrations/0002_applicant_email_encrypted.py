"""The applicant's e-mail address is encrypted at rest, like the phone and the address.

The column becomes an `EncryptedTextField` (text: a ciphertext is longer than 254 characters),
then every stored address is sealed under the primary key of `HUIBAO_DATA_KEYS` with the
column's context, in batches, through SQL of its own (the historical model would try to decrypt
the plaintext it reads). Reversible: going back opens every value and the column is an
`EmailField` again. Values already sealed (`hb1:…`) are left as they are, so a rerun is safe.
"""

from django.db import migrations, models

import huibao.core.fields

CONTEXT = "application.applicant_email"
BATCH = 500


def _rewrite(schema_editor, table, convert, select_where):
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    column = quote("applicant_email")
    last_id = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, {column} FROM {quote(table)} WHERE id > %s AND {select_where} "
                f"ORDER BY id LIMIT {BATCH}",
                [last_id],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            cursor.executemany(
                f"UPDATE {quote(table)} SET {column} = %s WHERE id = %s",
                [(convert(value), pk) for pk, value in rows],
            )
        last_id = rows[-1][0]


def encrypt(apps, schema_editor):
    from huibao.core.crypto import PREFIX, key_ring

    ring = key_ring()
    table = apps.get_model("application", "Application")._meta.db_table
    _rewrite(
        schema_editor,
        table,
        lambda value: ring.seal(value, context=CONTEXT),
        f"applicant_email <> '' AND applicant_email NOT LIKE '{PREFIX}:%%'",
    )


def decrypt(apps, schema_editor):
    from huibao.core.crypto import PREFIX, key_ring

    ring = key_ring()
    table = apps.get_model("application", "Application")._meta.db_table
    _rewrite(
        schema_editor,
        table,
        lambda value: ring.open(value, context=CONTEXT),
        f"applicant_email LIKE '{PREFIX}:%%'",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("application", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="application",
            name="applicant_email",
            field=huibao.core.fields.EncryptedTextField(blank=True, context=CONTEXT),
        ),
        migrations.RunPython(encrypt, decrypt),
    ]
