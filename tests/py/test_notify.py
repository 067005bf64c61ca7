"""E-mail notifications through a real SMTP server (aiosmtpd) on 127.0.0.1, driven by the CLI:
the test message, owner digests of new findings, no resend of open findings, 4xx retried,
5xx permanent, and the outbox."""
import email
import email.policy
import os
import pathlib
import socket
import subprocess

import pytest
from aiosmtpd.controller import Controller

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("ASSETWARDEN_BIN", str(ROOT / "target" / "debug" / "assetwarden"))


class Inbox:
    def __init__(self):
        self.messages = []
        self.replies = []  # scripted replies for DATA: "451 ...", "550 ..."

    async def handle_DATA(self, server, session, envelope):
        if self.replies:
            return self.replies.pop(0)
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


@pytest.fixture
def smtp():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    inbox = Inbox()
    c = Controller(inbox, hostname="127.0.0.1", port=port)
    c.start()
    yield port, inbox
    c.stop()


def policy(tmp, port, extra=""):
    p = tmp / "policy.yaml"
    p.write_text(f"""version: 1
checks:
  select: [{{ids: [aws.ec2.ebs-encrypted]}}]
notifications:
  routes:
    - name: owners
      kind: email
      smtp: {{host: 127.0.0.1, port: {port}, tls: none}}
      from: assetwarden@example.com
      to: [secops@example.com]
      digest_by_owner: Owner
{extra}""")
    return p


def inventory(tmp, name, vols):
    p = tmp / name
    lines = []
    for vid, enc, owner in vols:
        lines.append('{"resourceType":"AWS::EC2::Volume","arn":"arn:aws:ec2:eu-west-1:111111111111:volume/%s","accountId":"111111111111",'
                     '"awsRegion":"eu-west-1","tags":{"Owner":"%s"},"supplementaryConfiguration":{},"configuration":{"encrypted":%s}}' % (vid, owner, enc))
    p.write_text("\n".join(lines) + "\n")
    return p


def run(*args):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_notify_test_sends_plain_and_html(tmp_path, smtp):
    port, inbox = smtp
    res = run("notify", "test", "--policy", policy(tmp_path, port))
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(inbox.messages) == 1
    rcpt, msg = inbox.messages[0]
    assert rcpt == ["secops@example.com"]
    assert "test message" in msg["Subject"]
    kinds = sorted(part.get_content_type() for part in msg.walk() if not part.is_multipart())
    assert kinds == ["text/html", "text/plain"]


def test_owner_digests_dedup_and_regressions(tmp_path, smtp):
    port, inbox = smtp
    pol = policy(tmp_path, port)
    db = tmp_path / "state.db"
    a = inventory(tmp_path, "a.ndjson", [("vol-1", "false", "alice@example.com"), ("vol-2", "false", "bob@example.com"), ("vol-3", "true", "bob@example.com")])
    res = run("scan", "-i", a, "-p", pol, "-f", "json", "-o", tmp_path / "o.json", "--state", db, "--notify")
    assert res.returncode == 0, res.stderr
    assert sorted(r[0] for r, _ in inbox.messages) == ["alice@example.com", "bob@example.com"]
    body = inbox.messages[0][1].get_body(preferencelist=("plain",)).get_content()
    assert "aws.ec2.ebs-encrypted" in body
    # The same open findings are not sent again.
    res = run("scan", "-i", a, "-p", pol, "-f", "json", "-o", tmp_path / "o.json", "--state", db, "--notify")
    assert "nothing new to announce" in res.stderr, res.stderr
    assert len(inbox.messages) == 2
    # Fixed, then broken again: a regression is announced.
    fixed = inventory(tmp_path, "b.ndjson", [("vol-1", "true", "alice@example.com"), ("vol-2", "false", "bob@example.com")])
    run("scan", "-i", fixed, "-p", pol, "-f", "json", "-o", tmp_path / "o.json", "--state", db, "--notify")
    res = run("scan", "-i", a, "-p", pol, "-f", "json", "-o", tmp_path / "o.json", "--state", db, "--notify")
    assert len(inbox.messages) == 3 and inbox.messages[2][0] == ["alice@example.com"], res.stderr


def test_transient_errors_are_retried_and_permanent_ones_reported(tmp_path, smtp):
    port, inbox = smtp
    pol = policy(tmp_path, port)
    inbox.replies = ["451 try again later"]
    res = run("notify", "test", "--policy", pol)
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(inbox.messages) == 1
    inbox.replies = ["550 no such mailbox"] * 5
    res = run("notify", "test", "--policy", pol)
    assert res.returncode == 1
    assert "permanently" in res.stdout, res.stdout


def test_unreachable_server_keeps_findings_in_the_outbox(tmp_path, smtp):
    port, inbox = smtp
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()
    db = tmp_path / "state.db"
    a = inventory(tmp_path, "a.ndjson", [("vol-1", "false", "alice@example.com")])
    res = run("scan", "-i", a, "-p", policy(tmp_path, dead), "-f", "json", "-o", tmp_path / "o.json", "--state", db, "--notify")
    assert "kept in the outbox" in res.stderr, res.stderr
    # Next run, with the server up: the waiting finding goes out although it is not new.
    res = run("scan", "-i", a, "-p", policy(tmp_path, port), "-f", "json", "-o", tmp_path / "o.json", "--state", db, "--notify")
    assert len(inbox.messages) == 1, res.stderr
    assert inbox.messages[0][0] == ["alice@example.com"]


def test_header_injection_is_refused(tmp_path, smtp):
    port, inbox = smtp
    pol = policy(tmp_path, port)
    a = inventory(tmp_path, "a.ndjson", [("vol-1", "false", "x@example.com\\r\\nBcc: victim@example.com")])
    res = run("scan", "-i", a, "-p", pol, "-f", "json", "-o", tmp_path / "o.json", "--state", tmp_path / "s.db", "--notify")
    assert "line break" in res.stderr, res.stderr
    assert not any("victim@example.com" in r for rs, _ in inbox.messages for r in rs)
    bad = tmp_path / "bad.yaml"
    bad.write_text(pol.read_text().replace("[secops@example.com]", '["a@example.com\\r\\nBcc: v@example.com"]'))
    res = run("policy", "check", bad)
    assert res.returncode == 2 and "not an e-mail address" in res.stderr, res.stderr


def test_daily_report_is_sent_with_its_html(tmp_path, smtp):
    port, inbox = smtp
    pol = policy(tmp_path, port)
    db = tmp_path / "state.db"
    a = inventory(tmp_path, "a.ndjson", [("vol-1", "false", "alice@example.com")])
    run("scan", "-i", a, "-p", pol, "-f", "json", "-o", tmp_path / "o.json", "--state", db)
    res = run("report", "--state", db, "--out", tmp_path / "rep", "--notify", pol)
    assert res.returncode == 0, res.stderr
    assert "report sent" in res.stderr, res.stderr
    rcpt, msg = inbox.messages[-1]
    assert rcpt == ["secops@example.com"]
    assert "1 new" in msg["Subject"]
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "<svg" in html and 'id="trend"' in html
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "| new | resolved |" in text
