"""The engine in-process, without Celery: for small installs, demos, `make run` and tests.

It runs exactly the functions the Celery tasks run: dispatch, then the planned batches
in rounds, one batch of each (mailing, account) pair per round, as the Celery queue
serves them (a pair's continuation goes to the back of the queue), so a big mailing
never holds a small one back by more than one batch.
"""

import logging
import threading

from django.db import close_old_connections

from ..creation import background
from .batch import send_batch
from .dispatch import dispatch

log = logging.getLogger(__name__)


def run_round(on_batch=None):
    """One dispatch and every batch it plans. Returns True when anything changed."""
    progress = background.step_next()  # a chunk of a mailing being created, if any
    jobs = dispatch()
    while jobs:
        more = []
        for mailing_id, account_id in jobs:
            result = send_batch(mailing_id, account_id)
            progress = progress or bool(result.counts)
            if on_batch:
                on_batch(mailing_id, account_id, result)
            if result.more:
                more.append((mailing_id, account_id))
        jobs = more
    return progress


def run(*, once=False, forever=False, interval=5.0, on_batch=None, stop=None):
    """Run rounds: one (once), until a round changes nothing (default), or until ``stop``
    (a threading.Event) is set (forever).

    Forever means forever: an exception in one round (a database that went away, a bug)
    is logged and the loop goes on after ``interval``, so `make run`'s engine thread
    never dies for good. The other modes raise it to their caller.
    """
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            progress = run_round(on_batch)
        except Exception:
            if not forever:
                raise
            log.exception("A round of the in-process engine failed; trying again in %s s.",
                          interval)
            close_old_connections()  # a broken connection is replaced in the next round
            progress = False
        if once or (not forever and not progress):
            return
        if forever and not progress:
            stop.wait(interval)
