"""Three Delivery indexes become partial, holding only the rows they are asked about:
attempts (attempted_at set) for the limits, claimed and sending rows for the leases,
and rows with a Message-ID for mailbox feedback. A row waiting to be sent is in none of
them, so creating a mailing writes four indexes per row instead of seven (a million
rows: about 27 s instead of 31-34 s in benchmarks/scale.py).

Each index is dropped and built again in the migration's transaction, which locks the
Delivery table meanwhile: on a large table run it when nothing sends.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('massmail', '0011_delivery_key_first'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='delivery',
            name='massmail_account_window_idx',
        ),
        migrations.RemoveIndex(
            model_name='delivery',
            name='massmail_lease_idx',
        ),
        migrations.RemoveIndex(
            model_name='delivery',
            name='massmail_delivery_msgid_idx',
        ),
        migrations.AddIndex(
            model_name='delivery',
            index=models.Index(condition=models.Q(('attempted_at__isnull', False)), fields=['account', 'attempted_at'], name='massmail_account_window_idx'),
        ),
        migrations.AddIndex(
            model_name='delivery',
            index=models.Index(condition=models.Q(('status__in', ['claimed', 'sending'])), fields=['status', 'lease_until'], name='massmail_lease_idx'),
        ),
        migrations.AddIndex(
            model_name='delivery',
            index=models.Index(condition=models.Q(('message_id', ''), _negated=True), fields=['message_id'], name='massmail_delivery_msgid_idx'),
        ),
    ]
