"""Messages and signatures in the admin.

The message page previews the saved version with the engine's own renderer
(``rendering.prepare``), for the owner's first recipient or, when they have none yet,
for sample values, so what the manager sees is what recipients get. The HTML part is
served by its own owner-checked view with ``Content-Security-Policy: sandbox`` and shown
in an ``<iframe sandbox>``: authored HTML may contain anything, and must not run script
with the admin's origin and session. "Send test to me" sends the same rendering through
one of the owner's accounts to the user's own address and reports the server's reply.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from .. import freezing, rendering
from ..message_size import clip_warning, html_bytes, refuse_above_limit
from ..models import Attachment, EmailAccount, MassmailSettings, Message, Signature
from ..recipients import get_sources, merge_field_names
from ..sending.eligibility import split, usable_accounts
from ..sending.replies import Blame
from ..sending.smtp import Connection
from ..sending.transport import AccountError
from .owned import OwnedAdmin

# The preview document may load images and styles like a mail client does, but never
# run script, submit forms or share the admin's origin (``sandbox`` without
# ``allow-same-origin`` gives it an opaque one), even when opened outside the iframe.
PREVIEW_CSP = "sandbox; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"

# Merge values of the preview and the test email while the owner has no recipient.
SAMPLE_VALUES = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "full_name": "Ada Lovelace",
    "company": "Analytical Engines Ltd",
    "email": "ada.lovelace@example.com",
}

# Test emails are marked, so nobody mistakes one for the real mailing.
TEST_SUBJECT_PREFIX = "[TEST] "

# The add page goes back to this (same-site) URL after saving: the "Create mailing" page
# links here when the manager has no message yet.
RETURN_PARAM = "_massmail_return"

# Recipients a preview offers to be shown as, and the query parameter choosing one.
PREVIEW_CHOICES = 20
PREVIEW_AS_PARAM = "preview_as"

# A test send is an interactive request: fail sooner than a batch would.
TEST_SEND_TIMEOUT = 15


def merge_field_help(intro):
    """``intro`` followed by every merge field the configured sources offer, as HTML."""
    fields = format_html_join(", ", "<code>{{{{ {} }}}}</code>", ((name,) for name in merge_field_names()))
    return format_html("{} {} {}", intro, gettext("Merge fields:"), fields)


def problems(error):
    """The texts of why a message cannot be rendered: a ValidationError's messages, or
    an OSError (an attachment file that is gone) as one text."""
    return error.messages if isinstance(error, ValidationError) else [str(error)]


def recipient_choices(owner, limit=None):
    """[(key, record, its merge values)] of the owner's first eligible records with an
    address, source by source: whom a preview may be shown as. ``key`` is
    "<content type id>-<record id>"."""
    limit = limit or PREVIEW_CHOICES
    choices = []
    for source in get_sources():
        model = source.get_model()
        records = source.eligible(model._default_manager.filter(**{source.owner_field: owner}))
        records = (records.exclude(**{source.email_field: ""})
                   .exclude(**{f"{source.email_field}__isnull": True})
                   .select_related(*source.select_related).order_by("pk")[:limit - len(choices)])
        choices += [(f"{source.content_type.pk}-{record.pk}", record,
                     {**source.merge_values(record), "email": source.get_email(record)})
                    for record in records]
        if len(choices) >= limit:
            break
    return choices


def sample_context(owner, chosen=None):
    """(merge context, the record it was taken from or None, the recipient choices) for
    previews and tests: the recipient ``chosen`` (a key of ``recipient_choices``), else
    the owner's first one, else sample values.

    ``unsubscribe_url`` is the page recipients land on after unsubscribing: a test email
    has no delivery to unsubscribe, and its link must not suppress the tester.
    """
    choices = recipient_choices(owner)
    key, record, values = next((choice for choice in choices if choice[0] == chosen),
                               choices[0] if choices else (None, None, None))
    if record is None:
        values = {name: SAMPLE_VALUES.get(name, f"[{name}]") for name in merge_field_names()}
    settings = MassmailSettings.load()
    context = rendering.recipient_context(
        values, email=values.get("email", ""), unsubscribe_url=settings.page_after_unsubscribing(),
        postal_address=settings.postal_address)
    return context, record, [(choice_key, choice_record) for choice_key, choice_record, _v in choices]


def account_for_test(owner_id):
    """The account a test email goes through: the owner's usable mailing accounts, a
    non-main one first (as most recipients get it), else the main one; or None."""
    main, others = split(usable_accounts(owner_id))
    return others[0] if others else main


def send_test(message, user):
    """Send ``message`` as its owner's recipients get it to ``user.email``.

    Returns (level, text) for ``message_user``: the server's exact reply, or exactly
    why nothing was sent.
    """
    if not user.email:
        return messages.ERROR, gettext(
            "Your user has no email address, so there is nowhere to send a test. "
            "Add one to your user profile.")
    account = account_for_test(message.owner_id)
    if account is None:
        if EmailAccount.objects.filter(owner_id=message.owner_id).exists():
            text = gettext("No email account of %(owner)s can send now: they are disabled, "
                           "paused or not used for mailings. See Email accounts.")
        else:
            text = gettext("%(owner)s has no email account yet. Ask an administrator to "
                           "add one under Email accounts.")
        return messages.ERROR, text % {"owner": message.owner}
    try:
        prepared = rendering.prepare(message)
        context, _record, _choices = sample_context(message.owner)
        data = prepared.build(
            context, from_email=account.from_email, from_name=account.from_name,
            to_email=user.email, subject_prefix=TEST_SUBJECT_PREFIX,
            message_id=rendering.make_message_id(account.from_email),
            # Messages are owned like mailings, and the list is the owner's.
            list_id=rendering.list_id(message),
            unsubscribe_url=context["unsubscribe_url"],
        )
    except (ValidationError, ValueError, OSError) as error:
        return messages.ERROR, gettext("The message cannot be sent: %(problems)s") % {
            "problems": " ".join(problems(error))}
    params = {"email": user.email, "account": account}
    try:
        with Connection(account, timeout=TEST_SEND_TIMEOUT) as connection:
            verdict = connection.send(account.from_email, user.email, data)
    except AccountError as error:
        return messages.ERROR, gettext(
            "The test email to %(email)s could not be sent through %(account)s: %(error)s"
        ) % {**params, "error": error}
    params["reply"] = f"{verdict.code or ''} {verdict.reply}".strip()
    if verdict.blame == Blame.SENT:
        return messages.SUCCESS, gettext(
            "Test email sent to %(email)s through %(account)s. The server replied: %(reply)s"
        ) % params
    return messages.ERROR, gettext(
        "The server did not accept the test email to %(email)s through %(account)s: %(reply)s"
    ) % params


def default_signature(owner):
    return Signature.objects.filter(owner=owner, default=True).first()


def copy_message(message, owner):
    """A copy of ``message`` (content, signature, attachment files) owned by ``owner``.

    The signature is kept when it is the new owner's, else it becomes their default
    one: a message never carries another manager's signature.
    """
    signature = message.signature
    if signature is not None and signature.owner_id != owner.pk:
        signature = default_signature(owner)
    subject = gettext("Copy of %(subject)s") % {"subject": message.subject}
    with transaction.atomic():
        copy = Message.objects.create(
            owner=owner, subject=Truncator(subject).chars(Message._meta.get_field("subject").max_length),
            content=message.content, signature=signature,
        )
        for attachment in message.attachments.all():
            with attachment.file.open("rb") as handle:
                Attachment(message=copy).file.save(str(attachment), File(handle), save=True)
    return copy


class MessageForm(forms.ModelForm):
    class Meta:
        model = Message
        fields = "__all__"

    def clean(self):
        """A superuser picks the owner and the signature from everyone's: they must match."""
        cleaned = super().clean()
        owner, signature = cleaned.get("owner"), cleaned.get("signature")
        if owner and signature and signature.owner_id != owner.pk:
            self.add_error("signature", _("This signature belongs to another user than the "
                                          "message. Pick one of %(owner)s's signatures.")
                           % {"owner": owner})
        return cleaned


class AttachmentFormSet(forms.BaseInlineFormSet):
    """Refuses uploads that, with the message's HTML, exceed MAX_MESSAGE_BYTES."""

    def clean(self):
        super().clean()
        kept = [form for form in self.forms
                if form.cleaned_data.get("file") and not self._should_delete_form(form)]
        try:
            refuse_above_limit(html_bytes(self.instance)
                               + sum(form.cleaned_data["file"].size for form in kept))
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None


class AttachmentInline(admin.TabularInline):
    model = Attachment
    formset = AttachmentFormSet
    extra = 0

    def _changeable(self, obj):
        return obj is None or not freezing.is_frozen(obj)

    def has_add_permission(self, request, obj=None):
        return self._changeable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._changeable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._changeable(obj) and super().has_delete_permission(request, obj)


class MergeFieldHelpAdmin(OwnedAdmin):
    """Merge-field help on the content of messages and signatures."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "content":
            formfield.help_text = merge_field_help(db_field.help_text)
        return formfield


@admin.register(Message)
class MessageAdmin(MergeFieldHelpAdmin):
    team_visible = True  # team leads view their team's messages (owned.py)
    change_form_template = "admin/massmail/message/change_form.html"  # under any app label
    form = MessageForm
    list_display = ("subject", "owner", "signature", "updated_at")
    list_select_related = ("owner", "signature")
    search_fields = ("subject",)
    inlines = [AttachmentInline]
    actions = ["copy_selected"]

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        views = [
            ("preview", xframe_options_sameorigin(self.preview_view)),
            ("send-test", require_POST(self.send_test_view)),
            ("copy", require_POST(self.copy_view)),
        ]
        return [
            *(path(f"<path:object_id>/{name}/", self.admin_site.admin_view(view),
                   name="{}_{}_{}".format(*info, name.replace("-", "_")))
              for name, view in views),
            *super().get_urls(),
        ]

    def get_readonly_fields(self, request, obj=None):
        """A frozen message shows what recipients get, read-only (see freezing.py)."""
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and freezing.is_frozen(obj):
            return (*fields, "subject", "content", "signature", "track_clicks")
        return fields

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if "signature" not in initial:
            signature = default_signature(request.user)
            if signature is not None:
                initial["signature"] = signature.pk
        return initial

    def change_view(self, request, object_id, form_url="", extra_context=None):
        message = self.get_object(request, unquote(object_id))
        if message is not None and self.has_view_permission(request, message):
            extra_context = {"preview": self.preview(message, request.GET.get(PREVIEW_AS_PARAM)),
                             **(extra_context or {})}
            warning = clip_warning(message)
            if warning and request.method == "GET":
                self.message_user(request, warning, messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)

    def preview(self, message, chosen=None):
        """What the change page shows of the saved version: subject, text part, the URL
        of the HTML part, whose values were used and whom else it may be shown as; or why
        it cannot render."""
        try:
            prepared = rendering.prepare(message)
        except (ValidationError, OSError) as error:
            return {"errors": problems(error)}
        context, record, choices = sample_context(message.owner, chosen)
        rendered = prepared.render(context)
        html_url = reverse(f"{self.admin_site.name}:{self.opts.app_label}_message_preview",
                           args=[message.pk])
        if chosen:
            html_url += "?" + urlencode({PREVIEW_AS_PARAM: chosen})
        return {
            "subject": rendered.subject,
            "text": rendered.text,
            "html_url": html_url,
            "recipient": record,
            "choices": choices,
        }

    def response_add(self, request, obj, post_url_continue=None):
        """Back to the page that asked for a new message, when it is one of this site."""
        back = request.GET.get(RETURN_PARAM)
        if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
            self.message_user(request, gettext("The message “%(subject)s” was added.")
                              % {"subject": obj.subject}, messages.SUCCESS)
            return HttpResponseRedirect(back)
        return super().response_add(request, obj, post_url_continue)

    def _change_url(self, message):
        return reverse(f"{self.admin_site.name}:{self.opts.app_label}_message_change", args=[message.pk])

    def preview_view(self, request, object_id):
        message = self.owned_object(request, object_id)
        try:
            prepared = rendering.prepare(message)
        except (ValidationError, OSError) as error:
            response = HttpResponse("\n".join(problems(error)),
                                    content_type="text/plain; charset=utf-8")
        else:
            context, _record, _choices = sample_context(message.owner, request.GET.get(PREVIEW_AS_PARAM))
            response = HttpResponse(prepared.render(context).html,
                                    content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = PREVIEW_CSP
        return response

    def send_test_view(self, request, object_id):
        message = self.owned_object(request, object_id, change=True)  # sending: the owner's
        level, text = send_test(message, request.user)
        self.message_user(request, text, level)
        return HttpResponseRedirect(self._change_url(message))

    def copy_view(self, request, object_id):
        message = self.owned_object(request, object_id)
        if not self.has_add_permission(request):
            raise PermissionDenied
        copy = copy_message(message, request.user)
        self.message_user(request, gettext("“%(subject)s” was created from “%(original)s”. "
                                           "Change its subject before you use it.")
                          % {"subject": copy.subject, "original": message.subject})
        return HttpResponseRedirect(self._change_url(copy))

    @admin.action(description=_("Copy selected messages"), permissions=["add"])
    def copy_selected(self, request, queryset):
        copies = [copy_message(message, request.user) for message in queryset]
        self.message_user(request, ngettext(
            "%(count)d copy created, owned by you.", "%(count)d copies created, owned by you.",
            len(copies)) % {"count": len(copies)})


class SignatureForm(forms.ModelForm):
    class Meta:
        model = Signature
        fields = "__all__"

    def _get_validation_exclusions(self):
        """Leave the one-default-per-owner constraint to the admin's save_model, which
        unsets the owner's other default: ticking "default" is a choice, not an error."""
        return {*super()._get_validation_exclusions(), "default"}


@admin.register(Signature)
class SignatureAdmin(MergeFieldHelpAdmin):
    form = SignatureForm
    list_display = ("name", "owner", "default")
    list_select_related = ("owner",)

    def save_model(self, request, obj, form, change):
        """Saving a default signature makes it the owner's only default one."""
        self.assign_owner(request, obj, change)
        with transaction.atomic():
            if obj.default:
                Signature.objects.filter(owner_id=obj.owner_id, default=True).exclude(
                    pk=obj.pk).update(default=False)
            super().save_model(request, obj, form, change)
