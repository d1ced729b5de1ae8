"""Recording a click with its verdict: a person's, or a machine's.

Mail gateways (Safe Links, Mimecast, Proofpoint...) and mail clients' previews follow
links before, or instead of, a person. Each click is judged by these rules, the first
that applies giving the coarse reason stored with it:

- ``prefetch``: a HEAD request, or a request that says it is a prefetch or preview
  (``Sec-Purpose``/``Purpose``/``X-Purpose``/``X-Moz``);
- ``crawler``: no user agent, or one the CrawlerDetect list knows (crawlerdetect is a
  maintained port of the PHP CrawlerDetect patterns, which, unlike the
  crawler-user-agents list, knows mail-security scanners such as Barracuda and
  Office's link checker; one compiled regex, about 0.3 ms);
- ``too_soon``: within ``CLICK_MIN_SECONDS`` of sending (gateways scan on arrival);
- ``honeypot``: the hidden link was followed, which no person can do; every click of
  that delivery within ``CLICK_HONEYPOT_SECONDS`` of it is the same visit;
- ``burst``: ``CLICK_BURST_LINKS`` different links of one email within
  ``CLICK_BURST_SECONDS``, faster than a person reads.

The last two look at the delivery's other clicks and may turn earlier ones into
machine clicks. The delivery row is locked while a click is recorded, so concurrent
clicks of one email are judged one after another. Neither the IP address nor the user
agent is stored. ``link_clicked`` is sent after the commit with the verdict known then.
"""

import datetime
import functools

from crawlerdetect import CrawlerDetect
from django.core import signing
from django.db import transaction
from django.utils import timezone

from ..conf import conf
from ..models import Click, Delivery
from ..signals import link_clicked
from . import tokens

Reason = Click.Reason
_PREFETCH_HEADERS = ("HTTP_SEC_PURPOSE", "HTTP_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")
_PREFETCH_WORDS = ("prefetch", "preview", "prerender")


@functools.lru_cache(maxsize=1)
def _crawler_detect():
    return CrawlerDetect()


def is_crawler(user_agent):
    return not user_agent.strip() or _crawler_detect().isCrawler(user_agent)


def request_reason(request, sent_at, now):
    """The machine reason that this one request shows by itself, or "" (human)."""
    if request.method == "HEAD" or any(
            word in request.META.get(header, "").lower()
            for header in _PREFETCH_HEADERS for word in _PREFETCH_WORDS):
        return Reason.PREFETCH
    if is_crawler(request.META.get("HTTP_USER_AGENT", "")):
        return Reason.CRAWLER
    if sent_at is None or now - sent_at <= datetime.timedelta(seconds=conf.CLICK_MIN_SECONDS):
        return Reason.TOO_SOON
    return Reason.HUMAN


def record_click(request, token, link):
    """Record a click of ``link`` (a TrackedLink) by the delivery ``token`` names, and
    return it; None when the token is forged or names no delivery of that message."""
    try:
        delivery_id = tokens.read_token(token)
    except signing.BadSignature:
        return None
    now = timezone.now()
    with transaction.atomic():
        delivery = (Delivery.objects.select_for_update(of=("self",))
                    .filter(pk=delivery_id, mailing__message_id=link.message_id)
                    .only("pk", "sent_at", "mailing_id").first())
        if delivery is None:
            return None
        reason = request_reason(request, delivery.sent_at, now)
        if link.honeypot and not reason:
            reason = Reason.HONEYPOT
        click = Click.objects.create(delivery=delivery, link=link, clicked_at=now,
                                     human=not reason, reason=reason)
        _apply_visit_rules(click, link.honeypot)
        if not link.honeypot:
            transaction.on_commit(functools.partial(
                link_clicked.send, sender=Click, delivery=delivery, url=link.url,
                human=click.human))
    return click


def _apply_visit_rules(click, honeypot):
    """The honeypot and burst rules, over the delivery's recent clicks."""
    clicks = Click.objects.filter(delivery_id=click.delivery_id)
    around = datetime.timedelta(seconds=conf.CLICK_HONEYPOT_SECONDS)
    if honeypot:
        clicks.filter(clicked_at__gte=click.clicked_at - around, human=True).update(
            human=False, reason=Reason.HONEYPOT)
        return
    if click.human and clicks.filter(link__honeypot=True,
                                     clicked_at__gte=click.clicked_at - around).exists():
        _mark(click, Reason.HONEYPOT)
        return
    burst = clicks.filter(link__honeypot=False, clicked_at__gte=click.clicked_at
                          - datetime.timedelta(seconds=conf.CLICK_BURST_SECONDS))
    if burst.values("link_id").distinct().count() >= conf.CLICK_BURST_LINKS:
        burst.filter(human=True).update(human=False, reason=Reason.BURST)
        if click.human:
            click.human, click.reason = False, Reason.BURST


def _mark(click, reason):
    Click.objects.filter(pk=click.pk).update(human=False, reason=reason)
    click.human, click.reason = False, reason
