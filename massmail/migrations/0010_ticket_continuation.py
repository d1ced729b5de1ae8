from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('massmail', '0004_feedback'),
    ]

    operations = [
        migrations.AddField(
            model_name='batchticket',
            name='continuation',
            field=models.BooleanField(default=False),
        ),
    ]
