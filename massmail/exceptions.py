"""The root of every error massmail raises on purpose.

A host can catch ``MassmailError`` to handle anything the app refuses or cannot do
(an activation that is refused, an account that cannot send, a key that cannot
decrypt), without also catching programming errors.
"""


class MassmailError(Exception):
    """Base class of massmail's own exceptions."""
