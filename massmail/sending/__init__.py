"""The sending engine: plain functions that Celery tasks and `massmail_send` call.

dispatch.py plans (which mailing may send through which account now), batch.py sends
one batch, claims.py hands rows to exactly one worker, limits.py and schedule.py say how
much and when, routing.py picks the account of each recipient, smtp.py talks SMTP.
"""
