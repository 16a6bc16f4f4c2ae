"""Indexes of the list pages' sort orders and the coupling counters kept by triggers (the integration table
mappings list reads them instead of counting the coupling table)."""
import django.db.models.deletion
from django.db import migrations, models

# SQLite: one trigger per statement kind; the counter row of a pair is created on its first coupling.
SQLITE = [
    """CREATE TRIGGER coupling_count_insert AFTER INSERT ON mappings_coupling BEGIN
        INSERT OR IGNORE INTO mappings_couplingcount (connection_id, bc_table, dataverse_table, total, skipped)
            VALUES (NEW.connection_id, NEW.bc_table, NEW.dataverse_table, 0, 0);
        UPDATE mappings_couplingcount SET total = total + 1, skipped = skipped + NEW.skipped
            WHERE connection_id = NEW.connection_id AND bc_table = NEW.bc_table
              AND dataverse_table = NEW.dataverse_table;
    END""",
    """CREATE TRIGGER coupling_count_delete AFTER DELETE ON mappings_coupling BEGIN
        UPDATE mappings_couplingcount SET total = total - 1, skipped = skipped - OLD.skipped
            WHERE connection_id = OLD.connection_id AND bc_table = OLD.bc_table
              AND dataverse_table = OLD.dataverse_table;
    END""",
    """CREATE TRIGGER coupling_count_update AFTER UPDATE OF connection_id, bc_table, dataverse_table, skipped
        ON mappings_coupling
        WHEN NEW.skipped IS NOT OLD.skipped OR NEW.connection_id IS NOT OLD.connection_id
          OR NEW.bc_table IS NOT OLD.bc_table OR NEW.dataverse_table IS NOT OLD.dataverse_table BEGIN
        UPDATE mappings_couplingcount SET total = total - 1, skipped = skipped - OLD.skipped
            WHERE connection_id = OLD.connection_id AND bc_table = OLD.bc_table
              AND dataverse_table = OLD.dataverse_table;
        INSERT OR IGNORE INTO mappings_couplingcount (connection_id, bc_table, dataverse_table, total, skipped)
            VALUES (NEW.connection_id, NEW.bc_table, NEW.dataverse_table, 0, 0);
        UPDATE mappings_couplingcount SET total = total + 1, skipped = skipped + NEW.skipped
            WHERE connection_id = NEW.connection_id AND bc_table = NEW.bc_table
              AND dataverse_table = NEW.dataverse_table;
    END""",
]

# PostgreSQL: one row-level trigger function for the three kinds.
POSTGRESQL = [
    """CREATE FUNCTION coupling_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            UPDATE mappings_couplingcount SET total = total - 1, skipped = skipped - OLD.skipped::int
                WHERE connection_id = OLD.connection_id AND bc_table = OLD.bc_table
                  AND dataverse_table = OLD.dataverse_table;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO mappings_couplingcount (connection_id, bc_table, dataverse_table, total, skipped)
                VALUES (NEW.connection_id, NEW.bc_table, NEW.dataverse_table, 1, NEW.skipped::int)
                ON CONFLICT (connection_id, bc_table, dataverse_table)
                DO UPDATE SET total = mappings_couplingcount.total + 1,
                              skipped = mappings_couplingcount.skipped + EXCLUDED.skipped;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER coupling_count_insert_delete AFTER INSERT OR DELETE ON mappings_coupling
        FOR EACH ROW EXECUTE FUNCTION coupling_count_change()""",
    """CREATE TRIGGER coupling_count_update AFTER UPDATE OF connection_id, bc_table, dataverse_table, skipped
        ON mappings_coupling FOR EACH ROW
        WHEN (NEW.skipped IS DISTINCT FROM OLD.skipped OR NEW.connection_id IS DISTINCT FROM OLD.connection_id
              OR NEW.bc_table IS DISTINCT FROM OLD.bc_table OR NEW.dataverse_table IS DISTINCT FROM OLD.dataverse_table)
        EXECUTE FUNCTION coupling_count_change()""",
]

BACKFILL = """INSERT INTO mappings_couplingcount (connection_id, bc_table, dataverse_table, total, skipped)
    SELECT connection_id, bc_table, dataverse_table, COUNT(*), SUM(CASE WHEN skipped THEN 1 ELSE 0 END)
    FROM mappings_coupling GROUP BY connection_id, bc_table, dataverse_table"""

DROP = {
    "sqlite": ["DROP TRIGGER IF EXISTS coupling_count_insert", "DROP TRIGGER IF EXISTS coupling_count_delete",
               "DROP TRIGGER IF EXISTS coupling_count_update"],
    "postgresql": ["DROP TRIGGER IF EXISTS coupling_count_insert_delete ON mappings_coupling",
                   "DROP TRIGGER IF EXISTS coupling_count_update ON mappings_coupling",
                   "DROP FUNCTION IF EXISTS coupling_count_change()"],
}


def create_triggers(apps, schema_editor):
    statements = {"sqlite": SQLITE, "postgresql": POSTGRESQL}.get(schema_editor.connection.vendor)
    if statements is None:
        raise RuntimeError(f"The coupling counters need triggers written for {schema_editor.connection.vendor}; "
                           "the portal supports SQLite and PostgreSQL.")
    schema_editor.execute(BACKFILL)
    for statement in statements:
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    for statement in DROP.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('connections', '0003_connectionaction'),
        ('mappings', '0003_list_pages'),
        ('syncjobs', '0006_dry_run'),
    ]

    operations = [
        migrations.CreateModel(
            name='CouplingCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('bc_table', models.CharField(max_length=100, verbose_name='BC table')),
                ('dataverse_table', models.CharField(max_length=100, verbose_name='Dataverse table')),
                ('total', models.BigIntegerField(default=0)),
                ('skipped', models.BigIntegerField(default=0)),
            ],
        ),
        migrations.AddIndex(
            model_name='coupling',
            index=models.Index(fields=['connection', 'bc_table', 'dataverse_table', 'created_at', 'id'], name='coupling_pair_created'),
        ),
        migrations.AddIndex(
            model_name='coupling',
            index=models.Index(condition=models.Q(('skipped', True), ('last_synch_result', 'Failure'), ('last_synch_crm_result', 'Failure'), _connector='OR'), fields=['-skipped', 'bc_table', 'id'], name='coupling_skipped_list'),
        ),
        migrations.AddIndex(
            model_name='coupling',
            index=models.Index(condition=models.Q(('skipped', True), ('last_synch_result', 'Failure'), ('last_synch_crm_result', 'Failure'), _connector='OR'), fields=['connection', 'bc_table', 'dataverse_table', '-skipped', 'id'], name='coupling_skipped_pair'),
        ),
        migrations.AddIndex(
            model_name='couplinglogentry',
            index=models.Index(fields=['job', 'sequence', 'id'], name='coupling_log_job_sequence'),
        ),
        migrations.AddIndex(
            model_name='couplinglogentry',
            index=models.Index(fields=['job', 'outcome', 'sequence', 'id'], name='coupling_log_job_outcome'),
        ),
        migrations.AddField(
            model_name='couplingcount',
            name='connection',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='coupling_counts', to='connections.connectionsetup'),
        ),
        migrations.AddConstraint(
            model_name='couplingcount',
            constraint=models.UniqueConstraint(fields=('connection', 'bc_table', 'dataverse_table'), name='coupling_count_pair_unique'),
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
