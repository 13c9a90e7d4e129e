"""On PostgreSQL, the database itself refuses to change or delete audit entries.

The ORM already refuses; this also stops raw SQL from the application's own database role
by accident. Someone able to drop the trigger can still tamper, which `humas audit verify`
then reports. SQLite has no equivalent worth the complexity and keeps the ORM guard only.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION humas_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_auditentry_append_only
    BEFORE UPDATE OR DELETE ON accounts_auditentry
    FOR EACH ROW EXECUTE FUNCTION humas_audit_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS accounts_auditentry_append_only ON accounts_auditentry;
DROP FUNCTION IF EXISTS humas_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_notifications")]
    operations = [migrations.RunPython(forwards, backwards)]
