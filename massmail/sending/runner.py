"""The engine in-process, without Celery: for small installs, demos, `make run` and tests.

It runs exactly the functions the Celery tasks run: dispatch, then each planned batch
(and its continuations) one after another.
"""

import threading

from ..creation import background
from .batch import send_batch
from .dispatch import dispatch


def run_round(on_batch=None):
    """One dispatch and every batch it plans. Returns True when anything changed."""
    progress = background.step_next()  # a chunk of a mailing being created, if any
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
    (a threading.Event) is set (forever)."""
    stop = stop or threading.Event()
    while not stop.is_set():
        progress = run_round(on_batch)
        if once or (not forever and not progress):
            return
        if forever and not progress:
            stop.wait(interval)
