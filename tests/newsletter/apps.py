"""What such a host writes: an AppConfig subclass that gives massmail another label."""

from massmail.apps import MassmailConfig


class NewsletterConfig(MassmailConfig):
    label = "newsletter"
