"""Indexes of the synchronization log's sort orders and the per-mapping error counters kept by triggers (the
integration table mappings list reads them instead of summing the log)."""
import django.db.models.deletion
from django.db import migrations, models

SQLITE = [
    """CREATE TRIGGER mapping_error_count_insert AFTER INSERT ON syncjobs_synchronizationjob
        WHEN NEW.failed <> 0 BEGIN
        INSERT OR IGNORE INTO syncjobs_mappingerrorcount (table_mapping_id, failed) VALUES (NEW.table_mapping_id, 0);
        UPDATE syncjobs_mappingerrorcount SET failed = failed + NEW.failed
            WHERE table_mapping_id = NEW.table_mapping_id;
    END""",
    """CREATE TRIGGER mapping_error_count_delete AFTER DELETE ON syncjobs_synchronizationjob
        WHEN OLD.failed <> 0 BEGIN
        UPDATE syncjobs_mappingerrorcount SET failed = failed - OLD.failed
            WHERE table_mapping_id = OLD.table_mapping_id;
    END""",
    """CREATE TRIGGER mapping_error_count_update AFTER UPDATE OF failed, table_mapping_id
        ON syncjobs_synchronizationjob
        WHEN NEW.failed IS NOT OLD.failed OR NEW.table_mapping_id IS NOT OLD.table_mapping_id BEGIN
        UPDATE syncjobs_mappingerrorcount SET failed = failed - OLD.failed
            WHERE table_mapping_id = OLD.table_mapping_id;
        INSERT OR IGNORE INTO syncjobs_mappingerrorcount (table_mapping_id, failed) VALUES (NEW.table_mapping_id, 0);
        UPDATE syncjobs_mappingerrorcount SET failed = failed + NEW.failed
            WHERE table_mapping_id = NEW.table_mapping_id;
    END""",
]

POSTGRESQL = [
    """CREATE FUNCTION mapping_error_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            UPDATE syncjobs_mappingerrorcount SET failed = failed - OLD.failed
                WHERE table_mapping_id = OLD.table_mapping_id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO syncjobs_mappingerrorcount (table_mapping_id, failed) VALUES (NEW.table_mapping_id, NEW.failed)
                ON CONFLICT (table_mapping_id)
                DO UPDATE SET failed = syncjobs_mappingerrorcount.failed + EXCLUDED.failed;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER mapping_error_count_insert AFTER INSERT ON syncjobs_synchronizationjob FOR EACH ROW
        WHEN (NEW.failed <> 0) EXECUTE FUNCTION mapping_error_count_change()""",
    """CREATE TRIGGER mapping_error_count_delete AFTER DELETE ON syncjobs_synchronizationjob FOR EACH ROW
        WHEN (OLD.failed <> 0) EXECUTE FUNCTION mapping_error_count_change()""",
    """CREATE TRIGGER mapping_error_count_update AFTER UPDATE OF failed, table_mapping_id
        ON syncjobs_synchronizationjob FOR EACH ROW
        WHEN (NEW.failed IS DISTINCT FROM OLD.failed OR NEW.table_mapping_id IS DISTINCT FROM OLD.table_mapping_id)
        EXECUTE FUNCTION mapping_error_count_change()""",
]

BACKFILL = """INSERT INTO syncjobs_mappingerrorcount (table_mapping_id, failed)
    SELECT table_mapping_id, SUM(failed) FROM syncjobs_synchronizationjob GROUP BY table_mapping_id
    HAVING SUM(failed) <> 0"""

DROP = {
    "sqlite": ["DROP TRIGGER IF EXISTS mapping_error_count_insert", "DROP TRIGGER IF EXISTS mapping_error_count_delete",
               "DROP TRIGGER IF EXISTS mapping_error_count_update"],
    "postgresql": ["DROP TRIGGER IF EXISTS mapping_error_count_insert ON syncjobs_synchronizationjob",
                   "DROP TRIGGER IF EXISTS mapping_error_count_delete ON syncjobs_synchronizationjob",
                   "DROP TRIGGER IF EXISTS mapping_error_count_update ON syncjobs_synchronizationjob",
                   "DROP FUNCTION IF EXISTS mapping_error_count_change()"],
}


def create_triggers(apps, schema_editor):
    statements = {"sqlite": SQLITE, "postgresql": POSTGRESQL}.get(schema_editor.connection.vendor)
    if statements is None:
        raise RuntimeError(f"The mapping error counters need triggers written for {schema_editor.connection.vendor}; "
                           "the portal supports SQLite and PostgreSQL.")
    schema_editor.execute(BACKFILL)
    for statement in statements:
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    for statement in DROP.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('mappings', '0004_list_indexes'),
        ('syncjobs', '0006_dry_run'),
    ]

    operations = [
        migrations.CreateModel(
            name='MappingErrorCount',
            fields=[
                ('table_mapping', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='error_count_row', serialize=False, to='mappings.integrationtablemapping')),
                ('failed', models.BigIntegerField(default=0)),
            ],
        ),
        migrations.AddIndex(
            model_name='synchronizationerror',
            index=models.Index(fields=['coupling', 'created_at', 'id'], name='synch_error_coupling_latest'),
        ),
        migrations.AddIndex(
            model_name='synchronizationjob',
            index=models.Index(fields=['started_at', 'id'], name='synch_job_started'),
        ),
        migrations.AddIndex(
            model_name='synchronizationjob',
            index=models.Index(fields=['job_queue_entry', 'started_at', 'id'], name='synch_job_entry_started'),
        ),
        migrations.AddIndex(
            model_name='synchronizationjob',
            index=models.Index(fields=['table_mapping', 'type', 'started_at'], name='synch_job_mapping_type'),
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
