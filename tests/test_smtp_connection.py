"""SMTP connections: STARTTLS and implicit TLS with verified certificates, against a
real aiosmtpd server with a certificate the test makes and trusts."""

import datetime
import ipaddress
import ssl

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from massmail.sending.replies import Blame
from massmail.sending.smtp import Connection
from massmail.sending.transport import AccountError

from .factories import EmailAccountFactory
from .smtp import Authenticator, Handler, free_port

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "massmail test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_path, key_path


def server_context(certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def trusted(certificate, monkeypatch):
    """Make the default context (what Connection uses) trust the test certificate."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))


def start(handler, **options):
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port,
                            authenticator=Authenticator(), auth_exclude_mechanism=["LOGIN"],
                            **options)
    controller.start()
    return controller, port


def send_one(account):
    with Connection(account, timeout=5) as connection:
        return connection.send(account.from_email, "to@example.org",
                               b"Subject: hi\r\n\r\nbody\r\n")


def test_starttls_then_login(certificate, trusted):
    handler = Handler()
    controller, port = start(handler, tls_context=server_context(certificate),
                             require_starttls=True, auth_require_tls=True)
    try:
        account = EmailAccountFactory(smtp_port=port, use_tls=True)
        assert send_one(account).blame == Blame.SENT
    finally:
        controller.stop()
    assert handler.recipients() == ["to@example.org"]


def test_implicit_tls(certificate, trusted):
    handler = Handler()
    controller, port = start(handler, ssl_context=server_context(certificate),
                             auth_require_tls=False)
    try:
        account = EmailAccountFactory(smtp_port=port, use_ssl=True, use_tls=False)
        assert send_one(account).blame == Blame.SENT
    finally:
        controller.stop()
    assert handler.recipients() == ["to@example.org"]


def test_untrusted_certificate_is_refused(certificate):
    controller, port = start(Handler(), tls_context=server_context(certificate),
                             require_starttls=True)
    try:
        account = EmailAccountFactory(smtp_port=port, use_tls=True)
        with pytest.raises(AccountError, match="CERTIFICATE_VERIFY_FAILED"):
            send_one(account)
    finally:
        controller.stop()


def test_starttls_required_by_the_account_but_not_offered(smtp_server):
    account = EmailAccountFactory(smtp_port=smtp_server.port, use_tls=True)
    with pytest.raises(AccountError, match="STARTTLS"):
        send_one(account)


def test_lines_starting_with_a_dot_arrive_intact(smtp_server):
    account = EmailAccountFactory(smtp_port=smtp_server.port)
    body = b".starts with a dot\r\n..two dots\r\nmiddle . dot\r\n."
    with Connection(account, timeout=5) as connection:
        outcome = connection.send(account.from_email, "to@example.org",
                                  b"Subject: dots\r\n\r\n" + body)
    assert (outcome.blame, outcome.code) == (Blame.SENT, 250)
    assert smtp_server.messages[0].data == b"Subject: dots\r\n\r\n" + body + b"\r\n"


@pytest.mark.parametrize("pipelining", [True, False])
def test_each_step_keeps_its_reply_with_and_without_pipelining(smtp_server, pipelining):
    from massmail.sending.replies import Stage

    smtp_server.handler.pipelining = pipelining
    smtp_server.handler.rcpt_replies["gone@example.org"] = ["550 5.1.1 User unknown"]
    account = EmailAccountFactory(smtp_host=smtp_server.host, smtp_port=smtp_server.port)
    with Connection(account, timeout=5) as connection:
        refused = connection.send(account.from_email, "gone@example.org", b"Subject: x\r\n\r\nx\r\n")
        accepted = connection.send(account.from_email, "here@example.org", b"Subject: y\r\n\r\ny\r\n")
        assert connection.smtp.has_extn("pipelining") == pipelining
    assert (refused.blame, refused.stage, refused.code) == (Blame.RECIPIENT_GONE, Stage.RCPT, 550)
    assert (accepted.blame, accepted.stage) == (Blame.SENT, Stage.END)
    assert smtp_server.handler.recipients() == ["here@example.org"]
