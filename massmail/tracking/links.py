"""Rewriting the links of a message version into tracked redirects, once per version.

``LinkTracker.rewrite`` runs inside ``rendering.prepare`` on the HTML part after CSS
inlining, so it costs nothing per recipient: each trackable link becomes
``SITE_URL/massmail/c/<token>/<link id>/``, where ``<token>`` is the hidden merge field
``CLICK_TOKEN`` and the link id names a ``TrackedLink`` row holding the original URL.
The rows of a version are written with one INSERT (conflicts ignored, so two workers
preparing the same version agree) and read back with one SELECT.

Only absolute http(s) links are tracked. Never rewritten: links holding a merge field
(among them ``{{ unsubscribe_url }}``, which must stay the recipient's own signed
link, and any per-recipient URL, which one stored URL could not represent),
``mailto:``, ``tel:``, anchors and relative links. The HTML is edited in place as text,
so entities, other attributes and the rest of the document stay byte for byte as they
were; the stored URL is the unescaped href, query string included.

A hidden honeypot link is put first into the body: people never see it, link scanners
follow it (see verdicts.py).
"""

import hashlib
import html
import re

from django.urls import reverse

from ..conf import conf
from ..models import TrackedLink

# A whole <a> start tag (attribute values may hold ">"), and its href attribute.
_A_TAG = re.compile(r"""<a\b(?:[^>"']|"[^"]*"|'[^']*')*>""", re.IGNORECASE)
_HREF = re.compile(r"""(\shref\s*=\s*)("[^"]*"|'[^']*'|[^\s"'>]+)""", re.IGNORECASE)
_TRACKED_SCHEMES = ("http://", "https://")
_BODY = re.compile(r"<body\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.IGNORECASE)
# No person sees or reaches it: hidden in every way mail clients honour.
HONEYPOT = ('<a href="{href}" aria-hidden="true" tabindex="-1" style="display:none;'
            'max-height:0;overflow:hidden;mso-hide:all;font-size:0"></a>')
_LINK_PLACEHOLDER = 987654321
_TOKEN_PLACEHOLDER = "massmail-token-placeholder"


def version_of(message, signature_content):
    """The version key of ``message``'s links: what they are taken from, and the base
    URL the honeypot leads to."""
    source = "\0".join((message.content, signature_content or "", conf.SITE_URL))
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


class LinkTracker:
    """Rewrites the links of one version of ``message`` (saved, with tracking on)."""

    def __init__(self, message, version):
        self.message = message
        self.version = version

    def rewrite(self, html_text, token, has_field):
        """``html_text`` with its trackable links and a honeypot rewritten to redirects.

        ``token``: the text standing for the click token; ``has_field(text)``: whether an
        attribute value holds a merge field (such links are never rewritten).
        """
        tags = [(match, self._target(match[0], has_field)) for match in _A_TAG.finditer(html_text)]
        urls = [url for _match, (url, _href) in tags if url is not None]
        ids = self._register([*urls, conf.SITE_URL.rstrip("/") + "/"])
        template = self._redirect_template(token)
        out, position, link_ids = [], 0, iter(ids)
        for match, (url, href) in tags:
            if url is None:
                continue
            tag = match[0]
            start, end = href.span(2)
            out += [html_text[position:match.start()], tag[:start], f'"{template(next(link_ids))}"',
                    tag[end:]]
            position = match.end()
        out.append(html_text[position:])
        return self._with_honeypot("".join(out), HONEYPOT.format(href=template(next(link_ids))))

    @staticmethod
    def _target(tag, has_field):
        """(the URL to track, the href match) of an <a> tag, or (None, None)."""
        href = _HREF.search(tag)
        if href is None:
            return None, None
        raw = href[2].strip("\"'")
        url = html.unescape(raw).strip()
        if has_field(raw) or not url.lower().startswith(_TRACKED_SCHEMES):
            return None, None
        return url, href

    def _register(self, urls):
        """The TrackedLink ids of ``urls`` in order; the last one is the honeypot."""
        TrackedLink.objects.bulk_create([
            TrackedLink(message=self.message, version=self.version, position=position, url=url,
                        honeypot=position == len(urls) - 1)
            for position, url in enumerate(urls)
        ], ignore_conflicts=True)
        ids = dict(TrackedLink.objects.filter(message=self.message, version=self.version)
                   .values_list("position", "pk"))
        return [ids[position] for position in range(len(urls))]

    @staticmethod
    def _redirect_template(token):
        path = reverse("massmail:click", kwargs={"token": _TOKEN_PLACEHOLDER,
                                                 "link_id": _LINK_PLACEHOLDER})
        head, _sep, tail = path.rpartition(str(_LINK_PLACEHOLDER))
        head = html.escape(conf.SITE_URL.rstrip("/") + head.replace(_TOKEN_PLACEHOLDER, token))
        return lambda link_id: f"{head}{link_id}{tail}"

    @staticmethod
    def _with_honeypot(html_text, honeypot):
        body = _BODY.search(html_text)
        at = body.end() if body else 0
        return html_text[:at] + honeypot + html_text[at:]
