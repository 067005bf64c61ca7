"""E-mail over an encrypted, authenticated connection: a real SMTP server (aiosmtpd) on
127.0.0.1 with a certificate from a CA made for the test, speaking STARTTLS (AUTH offered only
after it) or TLS from the first byte. The CLI sends through it with the policy's `ca_file`;
without that CA it refuses the server; a wrong password is a permanent error that never shows
the password."""
import datetime
import email
import email.policy
import ipaddress
import os
import pathlib
import socket
import ssl
import subprocess

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("ASSETWARDEN_BIN", str(ROOT / "target" / "debug" / "assetwarden"))
USER, PASSWORD = "alerts", "s3cret-Pa55-word"


def make_pki(d: pathlib.Path):
    """A CA and a server certificate for 127.0.0.1 (IP SAN), as PEM files."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "assetwarden test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (d / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(d / "server.pem", d / "server.key")
    return d / "ca.pem", ctx


def encrypted(server):
    """Whether the SMTP session runs over TLS (STARTTLS or from the first byte)."""
    return server.transport.get_extra_info("ssl_object") is not None


class Inbox:
    def __init__(self):
        self.messages = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"encrypted": encrypted(server), "login": session.auth_data,
                              "msg": email.message_from_bytes(envelope.content, policy=email.policy.default)})
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((mechanism, login, encrypted(server)))
        # `handled=False`: aiosmtpd sends the 235 or 535 reply itself.
        return AuthResult(success=(login, password) == (USER, PASSWORD), handled=False, auth_data=login)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path)


@pytest.fixture
def starttls_server(pki):
    ca, ctx = pki
    inbox, port = Inbox(), free_port()
    c = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
                   authenticator=inbox.authenticate, auth_required=True, auth_require_tls=True)
    c.start()
    yield port, inbox, ca
    c.stop()


@pytest.fixture
def tls_server(pki):
    ca, ctx = pki
    inbox, port = Inbox(), free_port()
    # aiosmtpd's `auth_require_tls` knows STARTTLS only; here the whole connection is TLS, and the
    # test checks that the client authenticated anyway.
    c = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=ctx,
                   authenticator=inbox.authenticate, auth_required=False, auth_require_tls=False)
    c.start()
    yield port, inbox, ca
    c.stop()


def policy(tmp, port, tls, ca=None):
    p = tmp / f"policy-{tls}.yaml"
    ca_line = f", ca_file: '{ca}'" if ca else ""
    p.write_text(f"""version: 1
notifications:
  routes:
    - name: secops
      kind: email
      smtp: {{host: 127.0.0.1, port: {port}, tls: {tls}, username_env: AW_SMTP_USER, password_env: AW_SMTP_PASSWORD{ca_line}}}
      from: assetwarden@example.com
      to: [secops@example.com]
""")
    return p


def notify_test(pol, password=PASSWORD):
    env = dict(os.environ, AW_SMTP_USER=USER, AW_SMTP_PASSWORD=password, RUST_LOG="debug", ASSETWARDEN_LOG="debug")
    return subprocess.run([BIN, "notify", "test", "--policy", str(pol)], capture_output=True, text=True, env=env, timeout=120)


def test_starttls_then_auth(tmp_path, starttls_server):
    port, inbox, ca = starttls_server
    res = notify_test(policy(tmp_path, port, "starttls", ca))
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(inbox.messages) == 1, res.stdout + res.stderr
    m = inbox.messages[0]
    # The server offers AUTH only over TLS and requires it: both happened, in that order.
    assert m["encrypted"] and m["login"] == USER
    assert [(mech, login, tls) for mech, login, tls in inbox.logins] in ([("PLAIN", USER, True)], [("LOGIN", USER, True)]), inbox.logins
    kinds = sorted(p.get_content_type() for p in m["msg"].walk() if not p.is_multipart())
    assert kinds == ["text/html", "text/plain"]
    assert PASSWORD not in res.stdout + res.stderr


def test_implicit_tls_with_auth(tmp_path, tls_server):
    port, inbox, ca = tls_server
    res = notify_test(policy(tmp_path, port, "tls", ca))
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(inbox.messages) == 1 and inbox.messages[0]["encrypted"] and inbox.messages[0]["login"] == USER


def test_an_untrusted_certificate_is_refused(tmp_path, starttls_server):
    port, inbox, _ = starttls_server
    res = notify_test(policy(tmp_path, port, "starttls"))
    assert res.returncode == 1, res.stdout + res.stderr
    out = res.stdout + res.stderr
    assert "certificate" in out.lower() or "UnknownIssuer" in out, out
    assert inbox.messages == [] and inbox.logins == [], "nothing, credentials least of all, went over an untrusted link"


def test_a_wrong_password_is_permanent_and_never_shown(tmp_path, starttls_server):
    port, inbox, ca = starttls_server
    wrong = "wrong-Pa55-" + "x" * 8
    res = notify_test(policy(tmp_path, port, "starttls", ca), password=wrong)
    assert res.returncode == 1, res.stdout + res.stderr
    out = res.stdout + res.stderr
    assert "permanently" in out and "535" in out, out
    assert wrong not in out and PASSWORD not in out
    assert len(inbox.logins) == 1, "a refused login is not retried"
    assert inbox.messages == []


def test_a_missing_ca_file_is_named(tmp_path, starttls_server):
    port, _, _ = starttls_server
    res = notify_test(policy(tmp_path, port, "starttls", tmp_path / "nope.pem"))
    assert res.returncode != 0
    assert "nope.pem" in res.stdout + res.stderr, res.stdout + res.stderr
