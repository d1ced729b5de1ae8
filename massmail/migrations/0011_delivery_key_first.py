"""One index on the address key instead of two: the unique (mailing, key) index becomes
(key, mailing), which also finds every delivery to an address in any letter case, and
the key index it replaces goes. Mailing creation fills one index less, the one whose
random inserts cost it most.

Dropping the old unique index locks the Delivery table until the migration commits,
so on a large table reads and writes (the engine, unsubscribes, the admin) wait while
the new index is built: run it when nothing sends.
"""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('massmail', '0010_ticket_continuation'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='delivery',
            name='massmail_one_delivery_per_address',
        ),
        migrations.RemoveIndex(
            model_name='delivery',
            name='massmail_delivery_key_idx',
        ),
        migrations.AddConstraint(
            model_name='delivery',
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower('email'), models.F('mailing'),
                name='massmail_one_delivery_per_address'),
        ),
    ]
