"""The sending engine: plain functions that Celery tasks and `massmail_send` call.

dispatch.py plans (which mailing may send through which account now) and batch.py
sends one batch; both only move rows through states.py (every Delivery transition).
eligibility.py answers "may this mailing send now" and "which accounts are usable",
replies.py says who is to blame for an SMTP reply, accounts.py what that does to an
account, limits.py and schedule.py say how much and when, routing.py picks the account
of each recipient, and transport.py is the seam to the wire (smtp.py in production).
"""
