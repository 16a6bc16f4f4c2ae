"""Per-page progress and the already-coupled counter of synchronization jobs."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('syncjobs', '0004_alerts'),
    ]

    operations = [
        migrations.AddField(
            model_name='synchronizationjob',
            name='already_coupled',
            field=models.PositiveIntegerField(
                default=0,
                help_text='Match-based coupling: records (or their matching rows) coupled before this job',
            ),
        ),
    ]
