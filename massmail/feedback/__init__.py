"""Mailbox feedback: what comes back into an account's INBOX after the server took a
message (bounces, complaints, auto-replies, human replies), read over IMAP read-only.

``mailbox`` reads, ``classify`` (with ``reports`` and ``fallback``) says what a message
is, ``match`` finds the delivery it is about, ``record`` applies the outcome once, and
``reader`` runs those steps for each account.
"""
