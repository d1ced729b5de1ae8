"""System check E030: an account signs in with a provider that has no app registration."""

import pytest
from django.core.checks import run_checks

from .factories import EmailAccountFactory

pytestmark = pytest.mark.django_db


def errors():
    return [(e.id, e.msg) for e in run_checks(databases=["default"]) if e.id == "massmail.E030"]


def test_an_account_of_an_unregistered_provider_is_reported(settings):
    settings.MASSMAIL = {**settings.MASSMAIL, "OAUTH_PROVIDERS": {
        "microsoft": {"client_id": "id", "client_secret": "secret"}}}
    EmailAccountFactory(auth_method="password")
    EmailAccountFactory(auth_method="microsoft")
    assert errors() == []
    EmailAccountFactory(auth_method="google")
    EmailAccountFactory(auth_method="google")
    (error,) = errors()
    assert error[1].startswith("Email accounts sign in with 'google', but MASSMAIL[\"OAUTH_PROVIDERS\"]")
    settings.MASSMAIL = {**settings.MASSMAIL, "OAUTH_PROVIDERS": {
        "microsoft": {"client_id": "id"}, "google": {"client_id": "id", "client_secret": "s"}}}
    assert [e[1].split(",")[0] for e in errors()] == ["Email accounts sign in with 'microsoft'"]
