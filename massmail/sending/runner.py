"""The engine in-process, without Celery: for small installs, demos, `make run` and tests.

It runs exactly the functions the Celery tasks run: dispatch, then each planned batch
(and its continuations) one after another.
"""

import logging
import threading

from django.db import close_old_connections

from .batch import send_batch
from .dispatch import dispatch

logger = logging.getLogger("massmail")


def run_round(on_batch=None):
    """One dispatch and every batch it plans. Returns True when anything changed."""
    progress = False
    for mailing_id, account_id in dispatch():
        more = True
        while more:
            result = send_batch(mailing_id, account_id)
            more = result.more
            progress = progress or bool(result.counts)
            if on_batch:
                on_batch(mailing_id, account_id, result)
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
            logger.exception("A round of the in-process engine failed; trying again in %s s.",
                              interval)
            close_old_connections()  # a broken connection is replaced in the next round
            progress = False
        if once or (not forever and not progress):
            return
        if forever and not progress:
            stop.wait(interval)
