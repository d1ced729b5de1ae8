"""Opt-in click tracking (DESIGN 12): links rewritten once per message version
(links.py), signed per-delivery redirect tokens (tokens.py), the redirect (views.py) and
the human or machine verdict of every click (verdicts.py)."""
