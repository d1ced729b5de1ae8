"""Demo data: users, a small CRM with VIPs, duplicates and opt-outs, and SMTP accounts.

Everything is deterministic (a fixed random seed), so the demo prints the same summary
on every fresh clone.
"""

import random

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from example_project.crm.models import Company, Contact, Lead
from massmail.conf import conf
from massmail.models import EmailAccount, MassmailSettings, Message, Recipient, Suppression

FIRST_NAMES = ["Anna", "Ben", "Clara", "David", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas",
               "Karin", "Luca", "Mila", "Noah", "Olga", "Paul", "Rosa", "Sven", "Tara", "Yusuf"]
LAST_NAMES = ["Schmidt", "Müller", "Rossi", "Dubois", "Nowak", "García", "O'Brien", "Jansen",
              "Kowalski", "Berg"]
COUNTRIES = ["Germany", "Austria", "France", "Italy", "Poland"]
INDUSTRIES = ["Machinery", "Retail", "Logistics", "Software"]

# The port of the SMTP server that `make run` starts beside the admin.
RUN_SMTP_PORT = 1025

USERS = [
    # username, password, superuser, email
    ("admin", "admin", True, "admin@demo.example"),
    ("anna", "anna", False, "anna@demo.example"),
    ("ben", "ben", False, "ben@demo.example"),
]

NEWSLETTER = """<html><head><style>
h1 { color: #1d4ed8; font-family: Arial, sans-serif; }
p { font-family: Arial, sans-serif; line-height: 1.5; }
.button { background: #1d4ed8; color: #ffffff; padding: 8px 16px; text-decoration: none; }
</style></head><body>
<h1>Autumn news for {{ company|default:"you" }}</h1>
<p>Hello {{ first_name|default:"there" }},</p>
<p>our new product line is here, with shorter delivery times and a longer warranty.</p>
<p><a class="button" href="https://shop.demo.example/autumn">See what is new</a></p>
<p style="font-size: 12px">You receive this because you are a customer of Demo Machines GmbH.
{{ postal_address }}<br><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""


def create_users():
    """admin/admin (superuser), anna/anna and ben/ben (managers); returns the managers."""
    group = Group.objects.filter(name="Sales managers").first()
    managers = []
    for username, password, superuser, email in USERS:
        user, created = get_user_model().objects.get_or_create(
            username=username,
            defaults={"email": email, "is_staff": True, "is_superuser": superuser},
        )
        if created:
            user.set_password(password)
            user.save()
        if not superuser:
            if group:
                user.groups.add(group)
            managers.append(user)
    return managers


def create_accounts(managers, host, port):
    """Per manager: a main mailbox and mailing accounts, all on the given SMTP server."""
    accounts = []
    for manager, others in zip(managers, (2, 1), strict=True):
        domain = f"{manager.username}.demo.example"
        specs = [("Main", f"{manager.username}@{domain}", True)]
        specs += [(f"Newsletter {n}", f"news{n}@{domain}", False) for n in range(1, others + 1)]
        for name, address, main in specs:
            account, _ = EmailAccount.objects.update_or_create(
                owner=manager, from_email=address,
                defaults={"name": name, "smtp_host": host, "smtp_port": port,
                          "smtp_user": address, "password": "demo", "use_tls": False,
                          "use_ssl": False, "main": main, "massmail": True,
                          "disabled_at": None, "disabled_reason": "", "paused_until": None},
            )
            accounts.append(account)
    return accounts


def seed_crm(managers, per_manager=120):
    """Companies, contacts and leads per manager, with VIPs, shared addresses, opt-outs,
    disqualified records and suppressed addresses. Does nothing if the CRM has data."""
    if Contact.objects.exists():
        return
    rng = random.Random(42)
    for manager in managers:
        companies = Company.objects.bulk_create([
            Company(name=f"{rng.choice(LAST_NAMES)} {rng.choice(INDUSTRIES)} {n}",
                    email=f"office{n}@{manager.username}-co{n}.example", owner=manager,
                    country=rng.choice(COUNTRIES), industry=rng.choice(INDUSTRIES), type="customer")
            for n in range(per_manager // 6)
        ])
        contacts = []
        for n in range(per_manager):
            company = rng.choice(companies)
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            contacts.append(Contact(
                first_name=first, last_name=last, company=company, owner=manager,
                email=f"{first.lower()}.{n}@{manager.username}-co.example",
                massmail=rng.random() > 0.05, disqualified=rng.random() < 0.03,
            ))
        Contact.objects.bulk_create(contacts)
        leads = [
            Lead(first_name=rng.choice(FIRST_NAMES), last_name=rng.choice(LAST_NAMES),
                 company_name=f"Prospect {n}", owner=manager,
                 email=f"lead{n}@{manager.username}-prospects.example")
            for n in range(per_manager // 3)
        ]
        # Some leads are contacts already (the domain spelled differently): the same
        # person gets one email.
        leads += [Lead(first_name=c.first_name, last_name=c.last_name, owner=manager,
                       company_name=c.company.name, email=c.email.replace(".example", ".EXAMPLE"))
                  for c in contacts[:5]]
        Lead.objects.bulk_create(leads)
        contact_type = ContentType.objects.get_for_model(Contact)
        Recipient.objects.bulk_create([
            Recipient(content_type=contact_type, object_id=c.pk, vip=True)
            for c in Contact.objects.filter(owner=manager).order_by("pk")[:8]
        ], ignore_conflicts=True)
        for contact in Contact.objects.filter(owner=manager).order_by("-pk")[:3]:
            Suppression.objects.get_or_create(
                email=contact.email, defaults={"reason": Suppression.Reason.UNSUBSCRIBED})


def configure_settings():
    settings = MassmailSettings.load()
    settings.use_business_time = False  # the demo runs at any hour
    # A page the example project serves itself (example_project/demo/views.py).
    settings.unsubscribe_url = conf.SITE_URL.rstrip("/") + reverse("demo-unsubscribed")
    settings.company_name = "Demo Machines GmbH"
    settings.postal_address = "Demo Machines GmbH, Musterstraße 1, 10115 Berlin"
    settings.save()
    return settings


def seed_if_empty(smtp_port=RUN_SMTP_PORT):
    """Seed users, CRM, accounts and settings into an empty database (`make run`).
    A database with users is left alone, so edits made in the admin survive restarts.
    Returns whether it seeded."""
    if get_user_model().objects.exists():
        return False
    managers = create_users()
    seed_crm(managers)
    create_accounts(managers, "127.0.0.1", smtp_port)
    configure_settings()
    return True


def newsletter(manager):
    message, _ = Message.objects.get_or_create(
        owner=manager, subject="Autumn news for {{ first_name|default:\"you\" }}",
        defaults={"content": NEWSLETTER},
    )
    return message
