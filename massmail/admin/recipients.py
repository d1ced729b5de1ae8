"""The mixin a host adds to each recipient ModelAdmin (Contact, Company, Lead...).

It adds a VIP column and filter, a "Suppressed" column and filter (whether the record's
address is on the suppression list, and why), the actions `massmail_mark_vip` and
`massmail_unmark_vip` (which work only on the user's own records), and two ways to
start a mailing that lead to the same confirmation page:

- the action `massmail_create_mailing` ("Create mailing from selected"), and
- a "Create mailing" button above the list that takes every record matching the list's
  current filters and search, however many pages that is.

The confirmation page counts, without creating anything, how many addresses will be
mailed and how many are left out and why; the manager picks one of their messages, and
the mailing is created paused through ``api.create_mailing``. A list above
``CREATE_IN_BACKGROUND_ABOVE`` records is created in the background, and counting it
would take as long as creating it, so its page shows only how many records it has.
Ownership is decided by the engine: records of other managers are left out (and
counted) whatever is selected, and a manager's mailing always belongs to that manager.
"""

import secrets
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Case, CharField, Count, Exists, OuterRef, Value, When
from django.db.models.functions import Concat, Left, Lower, StrIndex, Substr, Trim
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import number_format
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import api
from ..audience import Exclusion
from ..conf import conf
from ..models import Mailing, Message, Recipient, Suppression
from ..naming import permission
from ..recipients import source_for_model
from .left_out import LEFT_OUT_PARAM, MESSAGE_PARAM, OWNER_PARAM, SELECTION_PARAM, LeftOutFilter
from .messages import RETURN_PARAM
from .sites import mailing_url_name, mixin_checks
from .suppressions import reason_label, suppression_reason

# The confirmation page reads its records from the session when this query parameter
# (SELECTION_PARAM, from left_out) names a stored selection, else from the list's filters
# in the query string.
SELECTIONS_KEY = "massmail_selections"
# Selections kept per session: a few open tabs, never an ever-growing session.
MAX_SELECTIONS = 10


def list_origin(changelist):
    """The filters and search of a recipient list, in words: ["country: Germany", ...]."""
    origin = []
    for spec in changelist.filter_specs:
        if getattr(spec, "used_parameters", None) and spec.has_output():
            chosen = [str(choice["display"]) for choice in spec.choices(changelist) if choice["selected"]]
            origin.append(f"{spec.title}: {', '.join(chosen)}")
    if changelist.query:
        origin.append(_("search “%(query)s”") % {"query": changelist.query})
    return origin


class VipFilter(admin.SimpleListFilter):
    title = _("VIP")
    parameter_name = "massmail_vip"

    def lookups(self, request, model_admin):
        return [("1", _("Yes")), ("0", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "1":
            return queryset.filter(_massmail_vip=True)
        if self.value() == "0":
            return queryset.filter(_massmail_vip=False)
        return queryset


class SuppressedFilter(admin.SimpleListFilter):
    title = _("suppressed")
    parameter_name = "massmail_suppressed"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), *Suppression.Reason.choices, ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(_massmail_suppression__isnull=False)
        if self.value() == "no":
            return queryset.filter(_massmail_suppression__isnull=True)
        if self.value() in Suppression.Reason.values:
            return queryset.filter(_massmail_suppression=self.value())
        return queryset


def normalised_email(field):
    """SQL twin of ``addresses.normalise_email`` for the host's email column: trimmed,
    domain lower-cased, so it can be compared with Suppression.email in the database.

    Limitations, all for addresses that practically never occur: it splits at the first
    "@" where normalise_email splits at the last (a quoted local part containing "@"),
    SQL TRIM removes spaces but not other whitespace, and SQLite lower-cases ASCII only.
    """
    address = Trim(field)
    at = StrIndex(address, Value("@"))
    return Case(
        When(**{f"{field}__contains": "@"},
             then=Concat(Left(address, at - 1), Value("@"), Lower(Substr(address, at + 1)))),
        default=address,
        output_field=CharField(),
    )


def remember_selection(request, model_label, ids):
    """Store selected record ids in the session; returns the token naming them.

    The ids stay on the server, so a long selection never ends up in a URL, and the
    page a token opens can only ever show records that the user selected themselves.
    """
    selections = request.session.get(SELECTIONS_KEY, {})
    token = secrets.token_urlsafe(8)
    selections[token] = {"model": model_label, "ids": ids}
    request.session[SELECTIONS_KEY] = dict(list(selections.items())[-MAX_SELECTIONS:])
    return token


def forget_selection(request, token):
    selections = request.session.get(SELECTIONS_KEY, {})
    if selections.pop(token, None) is not None:
        request.session[SELECTIONS_KEY] = selections


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.get_username()


class MessageChoiceField(forms.ModelChoiceField):
    """Superusers see everyone's messages, so each says whose it is."""

    def __init__(self, *args, show_owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.show_owner = show_owner

    def label_from_instance(self, obj):
        if self.show_owner:
            return f"{obj.subject} ({obj.owner.get_username()})"
        return obj.subject


class CreateMailingForm(forms.Form):
    """The choices of the confirmation page. The message is required only to create:
    counting works without one (then nobody "already received" it)."""

    owner = OwnerChoiceField(queryset=get_user_model().objects.none(), label=_("Owner"),
                             help_text=_("The manager whose accounts send the mailing; "
                                         "records of other managers are left out."))
    message = MessageChoiceField(queryset=Message.objects.none(), label=_("Message"),
                                 show_owner=False, required=False)
    name = forms.CharField(label=_("Mailing name"), max_length=200, required=False,
                           help_text=_("For your own overview; recipients do not see it."))
    skip_already_received = forms.BooleanField(
        label=_("Leave out addresses that already received this message"), required=False,
        help_text=_("Addresses that were sent this message in an earlier mailing."),
    )

    def __init__(self, *args, user, creating=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        messages_field = self.fields["message"]
        messages_field.queryset = Message.objects.owned_by(user).select_related("owner")
        messages_field.show_owner = user.is_superuser
        messages_field.required = creating
        if user.is_superuser:
            self.fields["owner"].queryset = get_user_model().objects.filter(
                is_staff=True, is_active=True).order_by("username")
        else:
            del self.fields["owner"]

    def clean(self):
        cleaned = super().clean()
        message, owner = cleaned.get("message"), self.chosen_owner()
        if message and owner and message.owner_id != owner.pk:
            self.add_error("message", _("This message belongs to another manager; pick one "
                                        "of the owner's messages."))
        return cleaned

    def chosen_owner(self):
        """The mailing's owner: the user themselves unless a superuser picked one."""
        if "owner" not in self.fields:
            return self.user
        return getattr(self, "cleaned_data", {}).get("owner")


class RecipientAdminMixin:
    """Add to a host ModelAdmin whose model has a RecipientSource."""

    # The host's own change_list template still wins when the host sets one.
    change_list_template = "massmail/admin/recipient_change_list.html"
    massmail_actions = ("massmail_create_mailing", "massmail_mark_vip", "massmail_unmark_vip")

    def __init__(self, *args, **kwargs):
        """Join the host's own actions, so they follow the host's rules: none with
        ``actions = None``, none where the host's ``get_actions`` gives none, and each
        only when ``has_massmail_permission`` (a hook for the host) allows it."""
        super().__init__(*args, **kwargs)
        if self.actions is not None:
            self.actions = [*self.actions,
                            *(name for name in self.massmail_actions if name not in self.actions)]

    def check(self, **kwargs):
        return [*super().check(**kwargs), *mixin_checks(self)]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        content_type = ContentType.objects.get_for_model(self.model)
        vip = Recipient.objects.filter(content_type=content_type, object_id=OuterRef("pk"), vip=True)
        email_field = source_for_model(self.model).email_field
        return queryset.annotate(
            _massmail_vip=Exists(vip),
            _massmail_email=normalised_email(email_field),
            _massmail_suppression=suppression_reason(OuterRef("_massmail_email")),
        )

    def get_list_display(self, request):
        return (*super().get_list_display(request), "massmail_vip", "massmail_suppressed")

    def get_list_filter(self, request):
        return (*super().get_list_filter(request), VipFilter, SuppressedFilter, LeftOutFilter)

    def massmail_selected_ids(self, request, token):
        """The ids of the stored selection ``token`` of this list, or None."""
        selection = request.session.get(SELECTIONS_KEY, {}).get(token)
        if selection is None or selection["model"] != self.opts.label_lower:
            return None
        return selection["ids"]

    def get_urls(self):
        return [
            path("massmail-create-mailing/",
                 self.admin_site.admin_view(self.massmail_create_mailing_view),
                 name=self._massmail_url_name("massmail_create_mailing")),
            *super().get_urls(),
        ]

    def _massmail_url_name(self, view):
        return f"{self.opts.app_label}_{self.opts.model_name}_{view}"

    def _massmail_url(self, view, query=""):
        url = reverse(f"{self.admin_site.name}:{self._massmail_url_name(view)}")
        return f"{url}?{query}" if query else url

    def has_massmail_permission(self, request):
        """May the user use massmail's actions and button on this list? Override to apply
        the host's own rules; the default: whoever may view or change the list."""
        return self.has_view_or_change_permission(request)

    def has_massmail_create_permission(self, request):
        return self.has_massmail_permission(request) and request.user.has_perm(
            permission("add", Mailing))

    def massmail_may_create(self, request):
        """The button and the page follow the action: the host's rules, the list (to pick
        records) and the right to add mailings."""
        return "massmail_create_mailing" in self.get_actions(request)

    def changelist_view(self, request, extra_context=None):
        context = {}
        if self.massmail_may_create(request):
            # The button carries the list's filters and search; the page re-applies them.
            context["massmail_create_url"] = self._massmail_url(
                "massmail_create_mailing", request.GET.urlencode())
        return super().changelist_view(request, {**context, **(extra_context or {})})

    @admin.display(boolean=True, description=_("VIP"), ordering="_massmail_vip")
    def massmail_vip(self, obj):
        return obj._massmail_vip

    @admin.display(description=_("suppressed"), ordering="_massmail_suppression")
    def massmail_suppressed(self, obj):
        return reason_label(obj._massmail_suppression)

    def _set_vip(self, request, queryset, vip):
        """Change the VIP flag of the user's own selected records and report exactly what
        happened: how many changed, how many already were so, how many were refused
        because another manager owns them (superusers may change any)."""
        source = source_for_model(self.model)
        own = queryset if request.user.is_superuser else queryset.filter(
            **{source.owner_field: request.user}
        )
        content_type = ContentType.objects.get_for_model(self.model)
        ids = list(own.values_list("pk", flat=True))
        Recipient.objects.bulk_create(
            [Recipient(content_type=content_type, object_id=pk) for pk in ids],
            ignore_conflicts=True,
        )
        changed = Recipient.objects.filter(
            content_type=content_type, object_id__in=ids).exclude(vip=vip).update(vip=vip)
        refused = self._massmail_selected_count(request, queryset) - len(ids)
        if ids:
            text = (ngettext("%(count)d record is now VIP.",
                             "%(count)d records are now VIP.", changed) if vip else
                    ngettext("%(count)d record is no longer VIP.",
                             "%(count)d records are no longer VIP.", changed))
            text = text % {"count": changed}
            if len(ids) > changed:
                text += " " + ngettext("%(count)d already was.", "%(count)d already were.",
                                       len(ids) - changed) % {"count": len(ids) - changed}
            self.message_user(request, text, messages.SUCCESS if changed else messages.INFO)
        if refused:
            self.message_user(
                request,
                ngettext("%(count)d record was refused: it belongs to another manager.",
                         "%(count)d records were refused: they belong to other managers.",
                         refused) % {"count": refused},
                messages.WARNING if ids else messages.ERROR,
            )

    @staticmethod
    def _massmail_selected_count(request, queryset):
        """How many records the user ticked. A host admin that lists only the user's own
        records (as it should) leaves the others out of ``queryset``, so the ticked ids
        are counted; "select all" across pages means the whole (visible) queryset."""
        if request.POST.get("select_across") == "1":
            return queryset.count()
        return len(set(request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)))

    @admin.action(description=_("Mark as VIP"), permissions=["massmail"])
    def massmail_mark_vip(self, request, queryset):
        self._set_vip(request, queryset, True)

    @admin.action(description=_("Remove VIP"), permissions=["massmail"])
    def massmail_unmark_vip(self, request, queryset):
        self._set_vip(request, queryset, False)

    @admin.action(description=_("Create mailing from selected"), permissions=["massmail_create"])
    def massmail_create_mailing(self, request, queryset):
        """Open the confirmation page for the selection.

        "Select all N" across pages means every record matching the filters: the page
        gets the list's query string, exactly like the "Create mailing" button.
        """
        if request.POST.get("select_across") == "1":
            return HttpResponseRedirect(
                self._massmail_url("massmail_create_mailing", request.GET.urlencode()))
        ids = list(queryset.values_list("pk", flat=True))
        token = remember_selection(request, self.opts.label_lower, ids)
        return HttpResponseRedirect(
            self._massmail_url("massmail_create_mailing", urlencode({SELECTION_PARAM: token})))

    def _massmail_records(self, request):
        """(the records the page is about, where they came from in words): a stored
        selection, or the list's filters and search applied with the list's own
        machinery. (None, None) when the selection expired."""
        token = request.GET.get(SELECTION_PARAM)
        if token is None:
            changelist = self.get_changelist_instance(request)
            return changelist.queryset, list_origin(changelist)
        ids = self.massmail_selected_ids(request, token)
        if ids is None:
            return None, None
        return self.get_queryset(request).filter(pk__in=ids), [ngettext(
            "%(count)d selected record", "%(count)d selected records", len(ids)) % {"count": len(ids)}]

    def _massmail_initial_owner(self, request, records):
        """For a superuser, the manager owning most of the records; else the user."""
        if not request.user.is_superuser:
            return request.user
        owner_field = source_for_model(self.model).owner_field
        owner_id = (
            records.order_by().values(owner_field).annotate(n=Count("pk"))
            .order_by("-n").values_list(owner_field, flat=True).first()
        )
        return get_user_model().objects.filter(pk=owner_id, is_staff=True).first() or request.user

    def _massmail_left_out_url(self, request, owner, options):
        """A function of a reason giving the list URL that shows the records left out for
        it (see left_out.py): the page's own filters, search or selection, plus the reason."""
        base = reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist")
        query = request.GET.copy()
        if owner is not None:
            query[OWNER_PARAM] = owner.pk
        if options.get("skip_already_received") and options.get("message"):
            query[MESSAGE_PARAM] = options["message"].pk

        def url(reason):
            query[LEFT_OUT_PARAM] = reason
            return f"{base}?{query.urlencode()}"
        return url

    def _massmail_add_message_url(self, request, form):
        """When the user has no message to pick: the message add page, which comes back
        here after saving (MessageAdmin honours RETURN_PARAM)."""
        if form.fields["message"].queryset.exists():
            return None
        if not self.admin_site.is_registered(Message):
            return None
        add = reverse(f"{self.admin_site.name}:{Message._meta.app_label}_message_add")
        return f"{add}?{urlencode({RETURN_PARAM: request.get_full_path()})}"

    def _massmail_counts(self, request, records, owner, options):
        """The page's numbers for a list created on the request: what creating it would
        give, counted by creating it in a transaction that is rolled back."""
        count, excluded = (0, {}) if owner is None else api.count_recipients(
            owner=owner, recipients=[records], message=options.get("message"),
            skip_already_received=options.get("skip_already_received", False))
        left_out_url = self._massmail_left_out_url(request, owner, options)
        return {
            "counted": True,
            "count": count,
            "excluded": [(Exclusion.LABELS[reason], excluded[reason], left_out_url(reason))
                         for reason in Exclusion.LABELS if excluded.get(reason)],
        }

    @staticmethod
    def _massmail_background_counts():
        """The page's numbers for a list created in the background: none but the number
        of records. Counting by reason costs as much as creating, which is why the
        mailing is created off the request; the background creation counts them and the
        mailing's page shows them with its progress."""
        return {
            "counted": False,
            "background_above": number_format(conf.CREATE_IN_BACKGROUND_ABOVE, force_grouping=True),
        }

    def massmail_create_mailing_view(self, request):
        """The confirmation page: counts by reason, message, name, options; then create.

        "Recount" (and the first visit) only counts; "Create mailing" creates the paused
        mailing and opens it. Above ``CREATE_IN_BACKGROUND_ABOVE`` records the page
        shows only the number of records and that the rest is counted while the
        mailing is created in the background; there is nothing to recount.
        """
        if not self.massmail_may_create(request):
            raise PermissionDenied
        mailing_url = mailing_url_name(self.admin_site)  # before anything is created
        changelist_url = reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist")
        try:
            records, origin = self._massmail_records(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(changelist_url + "?e=1")
        if records is None:
            self.message_user(request, _("The selection has expired; select the records again."),
                              messages.WARNING)
            return HttpResponseRedirect(changelist_url)
        token = request.GET.get(SELECTION_PARAM)
        if token is None and request.GET:
            changelist_url += "?" + request.GET.urlencode()

        creating = request.method == "POST" and "_create" in request.POST
        if request.method == "POST":
            form = CreateMailingForm(request.POST, user=request.user, creating=creating)
            valid = form.is_valid()
            owner, options = form.chosen_owner(), form.cleaned_data
        else:
            owner = self._massmail_initial_owner(request, records)
            form = CreateMailingForm(user=request.user, initial={"owner": owner})
            valid, options = False, {}

        # One COUNT decides whether the mailing is created in the background; then the
        # page counts nothing more (counting is as much work as creating).
        record_count = records.count()
        in_background = record_count > conf.CREATE_IN_BACKGROUND_ABOVE
        if creating and valid:
            mailing = api.create_mailing(
                owner=owner, message=options["message"], recipients=[records],
                name=options["name"], skip_already_received=options["skip_already_received"],
                in_background=in_background)
            if token is not None:
                forget_selection(request, token)
            count = mailing.deliveries.count()
            if mailing.status == mailing.Status.CREATING:
                self.message_user(request, _(
                    "The mailing “%(mailing)s” is being created in the background; its page "
                    "shows the progress. Activate it when it is ready.") % {"mailing": mailing},
                    messages.SUCCESS)
            else:
                self.message_user(request, ngettext(
                    "The mailing “%(mailing)s” was created, paused, with %(count)d recipient. "
                    "Check the preview, then set it to Active.",
                    "The mailing “%(mailing)s” was created, paused, with %(count)d recipients. "
                    "Check the preview, then set it to Active.", count) % {
                        "mailing": mailing, "count": count}, messages.SUCCESS)
            return HttpResponseRedirect(reverse(mailing_url, args=[mailing.pk]))

        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Create mailing"),
            "subtitle": capfirst(self.opts.verbose_name_plural),
            "form": form,
            "records": record_count,
            **(self._massmail_background_counts() if in_background else
               self._massmail_counts(request, records, owner, options)),
            "origin": origin or [_("all records")],
            "add_message_url": self._massmail_add_message_url(request, form),
            "changelist_url": changelist_url,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "massmail/admin/create_mailing.html", context)
