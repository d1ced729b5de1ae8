"""Recipient's foreign keys cost mailing creation less: no database constraint on the
content type and the sticky account (Django applies on_delete in Python either way), and
the account's index holds only rows that have an account. A million-row creation took
18.5-23.7 s instead of 23.7-32.0 s in benchmarks/scale.py (see Recipient).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('massmail', '0012_partial_delivery_indexes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='recipient',
            name='account',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, help_text='Every mailing reaches this recipient from the same account.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='massmail.emailaccount', verbose_name='sending account'),
        ),
        migrations.AlterField(
            model_name='recipient',
            name='content_type',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, to='contenttypes.contenttype'),
        ),
        migrations.AddIndex(
            model_name='recipient',
            index=models.Index(condition=models.Q(('account__isnull', False)), fields=['account'], name='massmail_recipient_account_idx'),
        ),
    ]
