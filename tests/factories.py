"""factory-boy factories for every model of massmail and of the example CRM."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType

from example_project.crm.models import Company, Contact, Lead
from massmail.models import (
    Attachment,
    Delivery,
    EmailAccount,
    Mailing,
    Message,
    Recipient,
    Signature,
    Suppression,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"manager{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.django.Password("pw")


class SuperuserFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_superuser = True


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    email = factory.Sequence(lambda n: f"office{n}@company{n}.example")
    owner = factory.SubFactory(UserFactory)
    country = "Germany"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    first_name = factory.Sequence(lambda n: f"Ann{n}")
    last_name = "Smith"
    email = factory.Sequence(lambda n: f"contact{n}@example.org")
    owner = factory.SubFactory(UserFactory)
    company = None


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    first_name = factory.Sequence(lambda n: f"Lee{n}")
    last_name = "Jones"
    company_name = "Leads Ltd"
    email = factory.Sequence(lambda n: f"lead{n}@example.net")
    owner = factory.SubFactory(UserFactory)


class EmailAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailAccount

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Account {n}")
    from_email = factory.Sequence(lambda n: f"sales{n}@sender.example")
    smtp_host = "127.0.0.1"
    smtp_port = 2525
    smtp_user = factory.LazyAttribute(lambda a: a.from_email)
    password = "secret"
    use_tls = False
    use_ssl = False
    main = False
    massmail = True


class SignatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signature

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Signature {n}")
    content = "<p>Best regards,<br>Sales</p>"


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    owner = factory.SubFactory(UserFactory)
    subject = "News for {{ first_name }}"
    content = (
        "<html><head><style>p { color: #333; }</style></head><body>"
        "<p>Hello {{ first_name }},</p><p>Our news.</p>"
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
    )


class AttachmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attachment

    message = factory.SubFactory(MessageFactory)
    file = factory.django.FileField(filename="price-list.txt", data=b"prices")


class MailingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Mailing

    owner = factory.SubFactory(UserFactory)
    message = factory.SubFactory(MessageFactory, owner=factory.SelfAttribute("..owner"))
    name = factory.Sequence(lambda n: f"Mailing {n}")


class RecipientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Recipient
        django_get_or_create = ("content_type", "object_id")

    class Params:
        record = factory.SubFactory(ContactFactory)

    content_type = factory.LazyAttribute(lambda r: ContentType.objects.get_for_model(r.record))
    object_id = factory.LazyAttribute(lambda r: r.record.pk)


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    mailing = factory.SubFactory(MailingFactory)
    recipient = factory.SubFactory(
        RecipientFactory, record=factory.SubFactory(
            ContactFactory, owner=factory.SelfAttribute("...mailing.owner"))
    )
    email = factory.LazyAttribute(lambda d: d.recipient.record.email)


class SuppressionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Suppression

    email = factory.Sequence(lambda n: f"gone{n}@example.org")
    reason = Suppression.Reason.MANUAL
