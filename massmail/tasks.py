"""Celery tasks: thin wrappers over massmail.sending.

Every task is acks_late (a lost worker's message is redelivered; claims make a
redelivered batch harmless). Run workers with --prefetch-multiplier=1; a batch stops after
MASSMAIL["BATCH_MAX_SECONDS"], far inside the broker's visibility timeout, and enqueues
its own continuation when work is left. Every task goes to MASSMAIL["CELERY_QUEUE"],
and a (mailing, account) pair never has two batches queued (sending/tickets.py).
"""

from celery import shared_task
from django.utils import timezone

from .conf import conf
from .creation.background import step as create_step
from .feedback.reader import accounts_to_read, read_account
from .sending import tickets
from .sending.batch import send_batch as run_batch
from .sending.dispatch import dispatch as plan
from .sending.dispatch import first_pairs, recheck_at


def queue_batch(mailing_id, account_id, continuation=False):
    """Queue a batch of the pair unless one is queued already."""
    if tickets.take(mailing_id, account_id, timezone.now(), continuation):
        send_batch.apply_async((mailing_id, account_id), queue=conf.CELERY_QUEUE)


def queue_dispatch():
    dispatch.apply_async(queue=conf.CELERY_QUEUE)


def queue_activated(mailing_id):
    """Queue the first batches of a mailing just activated, one per account its owner
    may send through now, without waiting for a dispatch to be served behind every
    running batch; each routes the mailing before it claims (batch.py). When a batch
    holds one of the accounts (another mailing's, or one a killed worker left locked),
    a dispatch follows to look at it again, and queues its follow-up dispatch."""
    account_ids, held = first_pairs(mailing_id)
    for account_id in account_ids:
        queue_batch(mailing_id, account_id)
    if held:
        queue_dispatch()


@shared_task(name="massmail.tasks.dispatch", acks_late=True, ignore_result=True)
def dispatch(follow_up=True):
    """Queue the planned batches. Unless this is itself a follow-up, also queue one
    follow-up dispatch for when a held account lease runs out before the next beat, so
    a killed worker's account is back within about LEASE_SECONDS (at most one follow-up
    per beat: follow-ups queue none)."""
    for mailing_id, account_id in plan():
        queue_batch(mailing_id, account_id)
    when = recheck_at(timezone.now()) if follow_up else None
    if when:
        dispatch.apply_async(kwargs={"follow_up": False}, eta=when, queue=conf.CELERY_QUEUE)


@shared_task(name="massmail.tasks.create_deliveries", acks_late=True, ignore_result=True)
def create_deliveries(mailing_id):
    """One chunk of a mailing created in the background (massmail.creation), then the
    next chunk's task; a redelivered task resumes from the committed cursor."""
    if create_step(mailing_id):
        create_deliveries.apply_async((mailing_id,), queue=conf.CELERY_QUEUE)


@shared_task(name="massmail.tasks.send_batch", acks_late=True, ignore_result=True)
def send_batch(mailing_id, account_id):
    result = run_batch(mailing_id, account_id)
    if result.more:
        queue_batch(mailing_id, account_id, continuation=True)
    return dict(result.counts)


@shared_task(name="massmail.tasks.read_mailboxes", acks_late=True, ignore_result=True)
def read_mailboxes():
    """Read the feedback of every account that has it on, one account per task."""
    for account_id in accounts_to_read():
        read_mailbox.apply_async((account_id,), queue=conf.CELERY_QUEUE)


@shared_task(name="massmail.tasks.read_mailbox", acks_late=True, ignore_result=True)
def read_mailbox(account_id):
    counts = read_account(account_id)
    return dict(counts) if counts is not None else None
