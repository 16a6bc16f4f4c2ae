"""Indexes and fields that the list pages (coupled records, skipped records, filters) need."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('mappings', '0002_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='coupling',
            name='bc_name',
            field=models.CharField(blank=True, max_length=250, null=True, verbose_name='BC record name'),
        ),
        migrations.AddField(
            model_name='coupling',
            name='dataverse_name',
            field=models.CharField(blank=True, max_length=250, null=True, verbose_name='Dataverse row name'),
        ),
    ]
