"""Dry runs of a full synchronization or of one mapping, row by row."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('syncjobs', '0005_progress'),
    ]

    operations = [
        migrations.CreateModel(
            name='DryRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('full', models.BooleanField(default=True, help_text='Plans a full synchronization (all records)')),
                ('status', models.CharField(choices=[('Queued', 'Queued'), ('Running', 'Running'), ('Finished', 'Finished'), ('Failed', 'Failed')], default='Queued', max_length=10)),
                ('requested_by', models.CharField(blank=True, max_length=150)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('rows_planned', models.PositiveIntegerField(default=0)),
                ('message', models.TextField(blank=True)),
                ('connection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='dry_runs', to='connections.connectionsetup')),
                ('table_mapping', models.ForeignKey(blank=True, help_text='Empty: the full synchronization', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='dry_runs', to='mappings.integrationtablemapping')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='DryRunRow',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sequence', models.PositiveIntegerField()),
                ('mapping_name', models.CharField(max_length=20)),
                ('direction', models.CharField(choices=[('Bidirectional', 'Bidirectional'), ('ToIntegrationTable', 'To integration table (BC → Dataverse)'), ('FromIntegrationTable', 'From integration table (Dataverse → BC)')], max_length=20)),
                ('action', models.CharField(choices=[('Insert', 'Insert'), ('Modify', 'Modify'), ('Unchanged', 'Unchanged'), ('Couple', 'Couple'), ('Uncouple', 'Uncouple'), ('Skip', 'Skip'), ('Fail', 'Fail')], max_length=10)),
                ('source_table', models.CharField(blank=True, max_length=100)),
                ('source_id', models.CharField(blank=True, max_length=100)),
                ('source_name', models.CharField(blank=True, max_length=250)),
                ('destination_table', models.CharField(blank=True, max_length=100)),
                ('destination_id', models.CharField(blank=True, max_length=100)),
                ('destination_name', models.CharField(blank=True, max_length=250)),
                ('changes', models.JSONField(blank=True, default=list)),
                ('message', models.TextField(blank=True)),
                ('dry_run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rows', to='syncjobs.dryrun')),
            ],
            options={
                'ordering': ['dry_run', 'sequence'],
                'indexes': [models.Index(fields=['dry_run', 'mapping_name', 'action'], name='dry_run_row_filter')],
                'constraints': [models.UniqueConstraint(fields=('dry_run', 'sequence'), name='dry_run_row_sequence_unique')],
            },
        ),
    ]
