"""Alert rules per integration table mapping and the alerts they raised."""
import django.db.models.deletion
from django.db import migrations, models

import base.fields


class Migration(migrations.Migration):

    dependencies = [
        ('syncjobs', '0003_run_lease'),
    ]

    operations = [
        migrations.CreateModel(
            name='AlertRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100)),
                ('is_enabled', models.BooleanField(default=True, verbose_name='Enabled')),
                ('error_rate_percent', models.DecimalField(blank=True, decimal_places=2, help_text='Alert when failed records reach this share of the records processed (1–100 %).', max_digits=5, null=True, verbose_name='Error rate (%)')),
                ('error_rate_jobs', models.PositiveSmallIntegerField(default=1, help_text="How many of the mapping's latest synchronization jobs the error rate counts (1 = the last run).", verbose_name='Over the last N synchronization jobs')),
                ('skipped_records', models.PositiveIntegerField(blank=True, help_text='Alert when the mapping has this many skipped records (or more).', null=True, verbose_name='Skipped records')),
                ('minutes_since_success', models.PositiveIntegerField(blank=True, help_text="Alert when no run of the mapping's job queue entries has succeeded for this many minutes.", null=True, verbose_name='Minutes since the last successful run')),
                ('email_recipients', models.TextField(blank=True, help_text="Comma-separated e-mail addresses (sent with the portal's mail settings, EMAIL_HOST and DEFAULT_FROM_EMAIL).", verbose_name='E-mail recipients')),
                ('webhook_url', base.fields.EncryptedTextField(blank=True, default='', editable=False, help_text='An https URL that receives the alert as a JSON POST; its host must be listed in the OUTBOUND_ALLOWED_HOSTS setting. Encrypted at rest and never shown again (webhook URLs often carry a token).', verbose_name='Webhook URL')),
                ('webhook_origin', models.CharField(blank=True, help_text="The webhook URL's scheme, host and port (what the pages show)", max_length=300, verbose_name='Webhook')),
                ('auto_pause', models.BooleanField(default=False, help_text="Set the mapping's job queue entries On Hold when the alert is raised; Resume on the Alerts page sets them Ready and runs a catch-up synchronization at once.", verbose_name='Pause the mapping')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('table_mapping', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='alert_rules', to='mappings.integrationtablemapping')),
            ],
            options={
                'ordering': ['table_mapping__name', 'name'],
            },
        ),
        migrations.CreateModel(
            name='Alert',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('rule_name', models.CharField(max_length=100)),
                ('measure', models.CharField(choices=[('ErrorRate', 'Error rate (%)'), ('SkippedRecords', 'Skipped records'), ('MinutesSinceSuccess', 'Minutes since the last successful run')], max_length=30)),
                ('value', models.DecimalField(decimal_places=2, max_digits=12)),
                ('threshold', models.DecimalField(decimal_places=2, max_digits=12)),
                ('message', models.TextField()),
                ('raised_at', models.DateTimeField()),
                ('resolved_at', models.DateTimeField(blank=True, null=True)),
                ('email_status', models.CharField(blank=True, choices=[('', '—'), ('Sent', 'Sent'), ('Failed', 'Failed')], default='', max_length=10)),
                ('email_error', models.TextField(blank=True)),
                ('webhook_status', models.CharField(blank=True, choices=[('', '—'), ('Sent', 'Sent'), ('Failed', 'Failed')], default='', max_length=10)),
                ('webhook_error', models.TextField(blank=True)),
                ('paused', models.BooleanField(default=False, help_text="The alert put the mapping's job queue entries On Hold")),
                ('held_entry_ids', models.JSONField(blank=True, default=list)),
                ('pending_entry_ids', models.JSONField(blank=True, default=list)),
                ('resumed_at', models.DateTimeField(blank=True, null=True)),
                ('resumed_by', models.CharField(blank=True, max_length=150)),
                ('table_mapping', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='alerts', to='mappings.integrationtablemapping')),
                ('rule', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='alerts', to='syncjobs.alertrule')),
            ],
            options={
                'ordering': ['-raised_at', '-id'],
            },
        ),
        migrations.AddConstraint(
            model_name='alertrule',
            constraint=models.UniqueConstraint(fields=('table_mapping', 'name'), name='alert_rule_unique_name_per_mapping', violation_error_message='This mapping already has an alert rule of this name; choose another name.'),
        ),
        migrations.AddIndex(
            model_name='alert',
            index=models.Index(fields=['table_mapping', '-raised_at'], name='syncjobs_al_table_m_0055b6_idx'),
        ),
        migrations.AddConstraint(
            model_name='alert',
            constraint=models.UniqueConstraint(condition=models.Q(('resolved_at__isnull', True)), fields=('rule', 'measure'), name='alert_open_once_per_measure'),
        ),
    ]
