"""Address identity: addresses are compared by their key (addresses.address_key).

Suppressions are unique by key. Case variants of one address that were stored as
separate suppressions are merged: the oldest row is kept, with its reason, channel
and mailing (the first reason an address was suppressed for is the one that counts).

One delivery per (mailing, lower-cased address): where a mailing already holds case
variants of one address (the bug this fixes: the person got two emails), the most
advanced row is kept (a sent one before others, then the oldest) and the others are
deleted, since the new unique index cannot be built over them.

Background creation: the ``creating`` mailing status and MailingCreation (the queries,
cursor and progress of a mailing whose deliveries are written in the background).

Faster creation: the single-column indexes of Delivery.mailing, Delivery.account and
Recipient.content_type go; composite indexes that start with those columns serve them.
"""

import django.db.models.deletion
import django.db.models.functions.text
import django.utils.timezone
from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Lower


def checks_now(schema_editor):
    """Run deferred foreign-key checks at once: pending ones of changed rows would
    block the index changes below on PostgreSQL."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def merge_suppressions(apps, schema_editor):
    checks_now(schema_editor)
    Suppression = apps.get_model("massmail", "Suppression")
    variants = (Suppression.objects.annotate(key=Lower("email")).values("key")
                .annotate(n=Count("id")).filter(n__gt=1).values_list("key", flat=True))
    for key in list(variants.iterator()):
        rows = list(Suppression.objects.annotate(key=Lower("email")).filter(key=key)
                    .order_by("created_at", "pk"))
        Suppression.objects.filter(pk__in=[row.pk for row in rows[1:]]).delete()


def merge_deliveries(apps, schema_editor):
    checks_now(schema_editor)
    Delivery = apps.get_model("massmail", "Delivery")
    groups = (Delivery.objects.annotate(key=Lower("email")).values("mailing_id", "key")
              .annotate(n=Count("id")).filter(n__gt=1).values_list("mailing_id", "key"))
    for mailing_id, key in list(groups.iterator()):
        rows = list(Delivery.objects.annotate(key=Lower("email"))
                    .filter(mailing_id=mailing_id, key=key).order_by("pk"))
        rows.sort(key=lambda row: row.status != "sent")
        Delivery.objects.filter(pk__in=[row.pk for row in rows[1:]]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('massmail', '0005_reports'),
    ]

    operations = [
        migrations.RunPython(merge_suppressions, migrations.RunPython.noop),
        migrations.RunPython(merge_deliveries, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name='delivery',
            name='massmail_one_delivery_per_address',
        ),
        migrations.AlterField(
            model_name='suppression',
            name='email',
            field=models.EmailField(max_length=254, verbose_name='email'),
        ),
        migrations.AddConstraint(
            model_name='delivery',
            constraint=models.UniqueConstraint(models.F('mailing'), django.db.models.functions.text.Lower('email'), name='massmail_one_delivery_per_address'),
        ),
        migrations.AddConstraint(
            model_name='suppression',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('email'), name='massmail_one_suppression_per_address'),
        ),
        migrations.CreateModel(
            name='MailingCreation',
            fields=[
                ('mailing', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='creation', serialize=False, to='massmail.mailing', verbose_name='mailing')),
                ('queries', models.BinaryField(verbose_name='queries')),
                ('skip_already_received', models.BooleanField(default=False, verbose_name='skip already received')),
                ('position', models.PositiveSmallIntegerField(default=0, verbose_name='queryset')),
                ('last_pk', models.BigIntegerField(blank=True, null=True, verbose_name='last record')),
                ('total', models.PositiveIntegerField(default=0, verbose_name='records')),
                ('done', models.PositiveIntegerField(default=0, verbose_name='records processed')),
                ('error', models.TextField(blank=True, verbose_name='error')),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='started')),
            ],
            options={
                'verbose_name': 'mailing creation',
                'verbose_name_plural': 'mailing creations',
            },
        ),
        migrations.AlterField(
            model_name='mailing',
            name='status',
            field=models.CharField(choices=[('paused', 'paused'), ('active', 'active'), ('interrupted', 'interrupted'), ('done', 'done'), ('creating', 'being created')], db_index=True, default='paused', max_length=12, verbose_name='status'),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='account',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='deliveries', to='massmail.emailaccount', verbose_name='account'),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='mailing',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='massmail.mailing', verbose_name='mailing'),
        ),
        migrations.AlterField(
            model_name='recipient',
            name='content_type',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='contenttypes.contenttype'),
        ),
    ]
