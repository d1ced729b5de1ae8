"""The engine in-process, without Celery: for small installs, demos, `make run` and tests.

It runs exactly the functions the Celery tasks run: dispatch, then the planned batches
in rounds, one batch of each (mailing, account) pair per round, as the Celery queue
serves them (a pair's continuation goes to the back of the queue), so a big mailing
never holds a small one back by more than one batch.
"""

import logging
import threading

from .batch import send_batch
from .dispatch import dispatch

log = logging.getLogger(__name__)


def run_round(on_batch=None):
    """One dispatch and every batch it plans. Returns True when anything changed."""
    progress = False
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
    (a threading.Event) is set (forever). Forever, an error in one round is logged with
    its traceback and the next round goes on."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            progress = run_round(on_batch)
        except Exception:
            if not forever:
                raise
            log.exception("A round of the engine failed; the next one goes on.")
            progress = False
        if once or (not forever and not progress):
            return
        if forever and not progress:
            stop.wait(interval)
