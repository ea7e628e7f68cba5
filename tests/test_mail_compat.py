"""The postfix service's `compat:` settings, read back with the real `postconf` (no daemon,
nothing sent): "2.6" gives Postfix 2.6's relay rules on this machine's Postfix 3.x, the
default "3.6" labkit's. The lab test (tests/test_mail_relay26_lab.py) shows the answers."""
from __future__ import annotations

import subprocess

import pytest

from labkit.mail.mainconf import COMPAT
from labkit.mail.postfix import PostfixConfig

RELAY = ("mynetworks_style", "smtpd_relay_restrictions", "smtpd_recipient_restrictions",
         "relay_domains", "relay_domains_reject_code")


def effective(tmp_path, compat: str) -> dict[str, str]:
    """What Postfix itself makes of the rendered main.cf (`postconf -x`: expressions expanded)."""
    cfg = PostfixConfig(run_dir=tmp_path / "run", extra=dict(COMPAT[compat]))
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "main.cf").write_text(cfg.main_cf_text())
    out = subprocess.run(["postconf", "-c", str(conf), "-x", *RELAY], capture_output=True, text=True,
                         check=True).stdout
    return dict(line.split(" = ", 1) if " = " in line else (line.rstrip(" ="), "") for line in out.splitlines())


def test_26_has_postfix_26_relay_rules(tmp_path):
    assert effective(tmp_path, "2.6") == {
        "mynetworks_style": "subnet",
        "smtpd_relay_restrictions": "",
        "smtpd_recipient_restrictions": "permit_mynetworks, reject_unauth_destination",
        "relay_domains": "mail.exampledomain.ca, localhost.exampledomain.ca, localhost",
        "relay_domains_reject_code": "554",
    }


def test_labkit_default_is_36(tmp_path):
    d = effective(tmp_path, "3.6")
    assert d["mynetworks_style"] == "host"
    assert d["smtpd_relay_restrictions"] == "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"
    assert d["relay_domains"] == ""


@pytest.mark.parametrize("compat", sorted(COMPAT))
def test_every_compat_renders_a_config_postfix_accepts(tmp_path, compat):
    d = effective(tmp_path, compat)
    assert d["relay_domains_reject_code"] == "554"
