"""How a host CRM declares its recipient models, and the registry of those declarations.

massmail never imports the host CRM. The host subclasses RecipientSource once per
recipient model and lists the classes in ``MASSMAIL["RECIPIENT_SOURCES"]``::

    class ContactSource(RecipientSource):
        model = "crm.Contact"
        subscribed_field = "massmail"
        merge_fields = ("first_name", "last_name", "full_name", "company")

        def eligible(self, queryset):
            return queryset.filter(disqualified=False)

        def merge_values(self, record):
            return {"first_name": record.first_name, ...}
"""

import functools

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.utils.module_loading import import_string

from .addresses import address_key, normalise_email, split_addresses
from .conf import conf

# Merge fields that every message may use, whatever the sources declare.
BUILTIN_MERGE_FIELDS = ("email", "unsubscribe_url", "postal_address")


class RecipientSource:
    """One host model whose records can receive mailings.

    Subclasses set ``model`` ("app_label.ModelName") and may override the field names,
    ``eligible`` and ``merge_values``.
    """

    model = None
    email_field = "email"
    owner_field = "owner"
    # Boolean field of the host's "subscribed to mailings" flag, or None.
    subscribed_field = None
    # Merge fields that merge_values returns, besides the built-in ones.
    merge_fields = ()
    # Relations merge_values follows, fetched with the records in one query.
    select_related = ()

    def get_model(self):
        return apps.get_model(self.model)

    def eligible(self, queryset):
        """Restrict ``queryset`` to records that may ever be mailed (override to exclude
        for example disqualified records)."""
        return queryset

    def merge_values(self, record):
        """The merge fields of ``record`` as plain strings (escaping happens later)."""
        return {}

    def get_email(self, record):
        return getattr(record, self.email_field) or ""

    def addresses(self, record):
        """Every address of ``record``, normalised, each its own delivery.

        The default reads ``email_field`` through ``addresses_in``. A host may override
        it (for example to add a second email field); mailing creation then loads such
        records as model instances instead of reading the column in the database.
        """
        return self.addresses_in(self.get_email(record))

    def addresses_in(self, value):
        """The normalised addresses in one value of ``email_field``: split at commas and
        semicolons when ``MASSMAIL["SPLIT_ADDRESS_FIELDS"]`` is on, else the value."""
        if conf.SPLIT_ADDRESS_FIELDS:
            return split_addresses(value)
        address = normalise_email(value)
        return [address] if address else []

    def has_address(self, record, email):
        """True when ``email`` is one of ``record``'s addresses, in any letter case."""
        return address_key(email) in {address_key(a) for a in self.addresses(record)}

    @property
    def reads_email_column(self):
        """True when the addresses come from ``email_field`` as ``addresses_in`` reads
        it (no method that reads it is overridden), so creation may read the column."""
        cls = type(self)
        return all(getattr(cls, name) is getattr(RecipientSource, name)
                   for name in ("addresses", "addresses_in", "get_email"))

    def get_owner_id(self, record):
        return getattr(record, f"{self.owner_field}_id")

    def is_subscribed(self, record):
        return self.subscribed_field is None or bool(getattr(record, self.subscribed_field))

    @property
    def content_type(self):
        return ContentType.objects.get_for_model(self.get_model())

    @property
    def label(self):
        return self.get_model()._meta.verbose_name_plural

    def __repr__(self):
        return f"<{type(self).__name__} {self.model}>"


@functools.cache
def _load_sources(paths):
    return tuple(import_string(path)() for path in paths)


def get_sources():
    """The configured sources, instantiated once per distinct setting value."""
    return _load_sources(tuple(conf.RECIPIENT_SOURCES))


def source_for_model(model):
    """The source of ``model`` (a class or instance); ImproperlyConfigured if none."""
    label = model._meta.label_lower
    for source in get_sources():
        if source.model.lower() == label:
            return source
    raise ImproperlyConfigured(f'{model._meta.label} is not in MASSMAIL["RECIPIENT_SOURCES"].')


def source_for_content_type(content_type):
    return source_for_model(content_type.model_class())


def merge_field_names():
    """Every merge field a message may use, in a stable order."""
    names = dict.fromkeys(BUILTIN_MERGE_FIELDS)
    for source in get_sources():
        names.update(dict.fromkeys(source.merge_fields))
    return tuple(names)


def check_sources():
    """Configuration errors of the sources, as (message, hint, id) tuples."""
    problems = []
    seen = {}
    for path in conf.RECIPIENT_SOURCES:
        try:
            source_class = import_string(path)
        except ImportError as exc:
            problems.append((f"Recipient source {path!r} cannot be imported: {exc}",
                             "Fix the dotted path in MASSMAIL['RECIPIENT_SOURCES'].", "E001"))
            continue
        if not (isinstance(source_class, type) and issubclass(source_class, RecipientSource)):
            problems.append((f"{path!r} is not a subclass of massmail.recipients.RecipientSource.",
                             None, "E002"))
            continue
        source = source_class()
        try:
            # A source that sets no model at all fails with AttributeError (None.split).
            model = source.get_model()
        except (LookupError, ValueError, TypeError, AttributeError):
            problems.append((f"Recipient source {path!r} names an unknown model {source.model!r}.",
                             "Set `model` to 'app_label.ModelName' of an installed app.", "E003"))
            continue
        label = model._meta.label_lower
        if label in seen:
            problems.append((f"{model._meta.label} is listed twice in MASSMAIL['RECIPIENT_SOURCES'] "
                             f"({seen[label]!r} and {path!r}).", "Keep one source per model.",
                             "E004"))
            continue
        seen[label] = path
        problems.extend(_check_fields(path, source, model))
    return problems


def _check_fields(path, source, model):
    problems = []
    expected = [
        ("email_field", source.email_field, ("CharField", "EmailField")),
        ("owner_field", source.owner_field, ("ForeignKey",)),
    ]
    if source.subscribed_field is not None:
        expected.append(("subscribed_field", source.subscribed_field, ("BooleanField",)))
    for attribute, name, kinds in expected:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            problems.append((f"Recipient source {path!r}: {model._meta.label} has no field "
                             f"{name!r} (its {attribute}).", f"Set {attribute} on the source.",
                             "E005"))
            continue
        if field.get_internal_type() not in kinds:
            problems.append((f"Recipient source {path!r}: {model._meta.label}.{name} is a "
                             f"{field.get_internal_type()}, expected {' or '.join(kinds)}.",
                             None, "E006"))
    if model._meta.pk.get_internal_type() not in (
        "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField",
        "PositiveIntegerField", "PositiveBigIntegerField",
    ):
        problems.append((f"Recipient source {path!r}: {model._meta.label} needs an integer "
                         "primary key.", None, "E007"))
    return problems
