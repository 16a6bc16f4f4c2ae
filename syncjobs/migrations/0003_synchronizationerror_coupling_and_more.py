import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("mappings", "0001_initial"),
        ("syncjobs", "0002_fullsyncreviewline_bc_record_count_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="synchronizationerror",
            name="coupling",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="synchronization_errors",
                to="mappings.coupling",
            ),
        ),
        migrations.AddField(
            model_name="synchronizationerror",
            name="direction",
            field=models.CharField(
                blank=True,
                choices=[
                    ("Bidirectional", "Bidirectional"),
                    ("ToIntegrationTable", "To integration table (BC → Dataverse)"),
                    ("FromIntegrationTable", "From integration table (Dataverse → BC)"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="synchronizationjob",
            name="could_not_run",
            field=models.BooleanField(
                default=False,
                help_text="The pass stopped on a connection or configuration problem (message says which)",
            ),
        ),
        migrations.AddField(
            model_name="synchronizationerror",
            name="conflict",
            field=models.CharField(
                blank=True,
                choices=[("", "—"), ("Update", "Update conflict"), ("Deletion", "Deletion conflict")],
                default="",
                max_length=10,
            ),
        ),
    ]
