"""Issue 11, part 2: the admin at a million rows.

- the indexes the plans ask for: recipient e-mail (suppress()), (campaign, status, id) for the
  sender's next chunk — it replaces (campaign, status) —, (campaign, id) for the first recipient;
- trigram indexes (PostgreSQL's pg_trgm) under the admin's e-mail and name searches;
- `mailer_recipient_count`: recipients per (campaign, status), kept by triggers on every
  insert, update and delete however it is made (import, sender, suppress, cascade), so a
  progress figure is a read of a few rows, not a count over the campaign's recipients.
"""

from django.db import migrations, models


class ForVendor(migrations.RunSQL):
    """RunSQL on one database vendor only (the triggers and trigram indexes differ by dialect)."""

    def __init__(self, vendor, sql, reverse_sql):
        super().__init__(sql, reverse_sql)
        self.vendor = vendor

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_backwards(app_label, schema_editor, from_state, to_state)


COUNT_TABLE = """
CREATE TABLE mailer_recipient_count (
    campaign_id integer NOT NULL,
    status varchar(16) NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (campaign_id, status)
)
"""

# One upsert per statement, whatever its number of rows, its keys in order: two statements
# never wait for each other's counter rows in opposite orders (no deadlock).
PG_TRIGGERS = """
CREATE FUNCTION mailer_recipient_count_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO mailer_recipient_count AS c (campaign_id, status, n)
        SELECT campaign_id, status, count(*) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (campaign_id, status) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO mailer_recipient_count AS c (campaign_id, status, n)
        SELECT campaign_id, status, -count(*) FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (campaign_id, status) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        INSERT INTO mailer_recipient_count AS c (campaign_id, status, n)
        SELECT campaign_id, status, sum(delta) FROM (
            SELECT campaign_id, status, 1 AS delta FROM new_rows
            UNION ALL SELECT campaign_id, status, -1 FROM old_rows
        ) AS changed GROUP BY 1, 2 HAVING sum(delta) <> 0 ORDER BY 1, 2
        ON CONFLICT (campaign_id, status) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER mailer_recipient_count_insert AFTER INSERT ON mailer_campaignrecipient
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION mailer_recipient_count_apply();
CREATE TRIGGER mailer_recipient_count_update AFTER UPDATE ON mailer_campaignrecipient
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mailer_recipient_count_apply();
CREATE TRIGGER mailer_recipient_count_delete AFTER DELETE ON mailer_campaignrecipient
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION mailer_recipient_count_apply();
CREATE FUNCTION mailer_recipient_count_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM mailer_recipient_count;
    RETURN NULL;
END $$;
-- TRUNCATE (Django's flush between transactional tests) deletes no row one by one.
CREATE TRIGGER mailer_recipient_count_truncate AFTER TRUNCATE ON mailer_campaignrecipient
    FOR EACH STATEMENT EXECUTE FUNCTION mailer_recipient_count_clear();
"""
PG_TRIGGERS_DROP = """
DROP TRIGGER mailer_recipient_count_insert ON mailer_campaignrecipient;
DROP TRIGGER mailer_recipient_count_update ON mailer_campaignrecipient;
DROP TRIGGER mailer_recipient_count_delete ON mailer_campaignrecipient;
DROP TRIGGER mailer_recipient_count_truncate ON mailer_campaignrecipient;
DROP FUNCTION mailer_recipient_count_apply();
DROP FUNCTION mailer_recipient_count_clear();
"""

# The embedded SQLite build: row triggers, same counts.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER mailer_recipient_count_insert AFTER INSERT ON mailer_campaignrecipient BEGIN
        INSERT INTO mailer_recipient_count (campaign_id, status, n) VALUES (NEW.campaign_id, NEW.status, 1)
        ON CONFLICT (campaign_id, status) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER mailer_recipient_count_delete AFTER DELETE ON mailer_campaignrecipient BEGIN
        INSERT INTO mailer_recipient_count (campaign_id, status, n) VALUES (OLD.campaign_id, OLD.status, -1)
        ON CONFLICT (campaign_id, status) DO UPDATE SET n = n - 1;
    END""",
    """CREATE TRIGGER mailer_recipient_count_update AFTER UPDATE OF campaign_id, status ON mailer_campaignrecipient
    WHEN OLD.campaign_id <> NEW.campaign_id OR OLD.status <> NEW.status BEGIN
        INSERT INTO mailer_recipient_count (campaign_id, status, n) VALUES (OLD.campaign_id, OLD.status, -1)
        ON CONFLICT (campaign_id, status) DO UPDATE SET n = n - 1;
        INSERT INTO mailer_recipient_count (campaign_id, status, n) VALUES (NEW.campaign_id, NEW.status, 1)
        ON CONFLICT (campaign_id, status) DO UPDATE SET n = n + 1;
    END""",
]
SQLITE_TRIGGERS_DROP = [
    f"DROP TRIGGER mailer_recipient_count_{event}" for event in ("insert", "delete", "update")
]

BACKFILL = """
INSERT INTO mailer_recipient_count (campaign_id, status, n)
SELECT campaign_id, status, count(*) FROM mailer_campaignrecipient GROUP BY campaign_id, status
"""

# Django's `icontains` is UPPER(col::text) LIKE UPPER('%q%'): these expressions serve it.
TRIGRAM = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX recipient_email_trgm ON mailer_campaignrecipient USING gin (UPPER(email::text) gin_trgm_ops);
CREATE INDEX recipient_name_trgm ON mailer_campaignrecipient USING gin (UPPER(name::text) gin_trgm_ops);
CREATE INDEX sendlog_email_trgm ON mailer_sendlog USING gin (UPPER(email::text) gin_trgm_ops);
"""
TRIGRAM_DROP = """
DROP INDEX recipient_email_trgm;
DROP INDEX recipient_name_trgm;
DROP INDEX sendlog_email_trgm;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("mailer", "0011_campaign_schedule"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="campaignrecipient",
            name="recipient_campaign_status",
        ),
        migrations.AddIndex(
            model_name="campaignrecipient",
            index=models.Index(fields=["campaign", "status", "id"], name="recipient_campaign_status_id"),
        ),
        migrations.AddIndex(
            model_name="campaignrecipient",
            index=models.Index(fields=["campaign", "id"], name="recipient_campaign_id"),
        ),
        migrations.AddIndex(
            model_name="campaignrecipient",
            index=models.Index(fields=["email"], name="recipient_email"),
        ),
        migrations.AddIndex(
            model_name="sendlog",
            index=models.Index(fields=["smtp_message_id"], name="sendlog_message_id"),
        ),
        migrations.AddIndex(
            model_name="unsubscribe",
            index=models.Index(fields=["created_at"], name="unsubscribe_created_at"),
        ),
        migrations.AddIndex(
            model_name="sendlog",
            index=models.Index(fields=["email"], name="sendlog_email"),
        ),
        migrations.RunSQL(COUNT_TABLE, "DROP TABLE mailer_recipient_count"),
        ForVendor("postgresql", PG_TRIGGERS, PG_TRIGGERS_DROP),
        ForVendor("sqlite", SQLITE_TRIGGERS, SQLITE_TRIGGERS_DROP),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        ForVendor("postgresql", TRIGRAM, TRIGRAM_DROP),
    ]
