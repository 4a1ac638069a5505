"""Encrypts the SMTP password and the smtp.bz API key stored in plain text before 0004.

Raw SQL on purpose: the model's EncryptedField would read a plain value as unreadable. A
value already encrypted (a re-run, or a row saved in between) is left as it is.
"""

from django.db import migrations

from mailer import stored_secrets

SECRET_COLUMNS = ("smtp_password", "smtp_bz_api_key")


def _rewrite(apps, schema_editor, convert):
    table = schema_editor.connection.ops.quote_name(apps.get_model("mailer", "GlobalMailAccount")._meta.db_table)
    columns = ", ".join(SECRET_COLUMNS)
    assignments = ", ".join(f"{column} = %s" for column in SECRET_COLUMNS)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {columns} FROM {table}")
        for pk, *values in cursor.fetchall():
            cursor.execute(f"UPDATE {table} SET {assignments} WHERE id = %s", [*map(convert, values), pk])


def _encrypted(value):
    if not value or value.startswith(stored_secrets.PREFIX):
        return value
    return stored_secrets.encrypt(value)


def _plain(value):
    if not value or not value.startswith(stored_secrets.PREFIX):
        return value
    return stored_secrets.reveal(stored_secrets.decrypt(value, label="secret"))


def encrypt_plain_values(apps, schema_editor):
    _rewrite(apps, schema_editor, _encrypted)


def decrypt_to_plain_values(apps, schema_editor):
    _rewrite(apps, schema_editor, _plain)


class Migration(migrations.Migration):
    dependencies = [
        ("mailer", "0004_account_secrets_encrypted"),
    ]

    operations = [
        migrations.RunPython(encrypt_plain_values, decrypt_to_plain_values),
    ]
