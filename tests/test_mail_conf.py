"""main.cf parsing and rendering from the seed; `postfix check` is the dry run."""
import os
import tempfile
from pathlib import Path

import pytest

from labkit.mail import mainconf
from labkit.mail.errors import MailConfigError
from labkit.mail.maps import parse_map
from labkit.mail.postfix import SEED_DIR, PostfixConfig, render_master_cf

SEED_MAIN = SEED_DIR / "main.cf"


def test_parse_seed_keeps_every_parameter_and_joins_continuations():
    params = mainconf.load_main_cf(SEED_MAIN)
    names = [p.name for p in params]
    assert len(names) == len(set(names)) == 27
    d = mainconf.as_dict(params)
    assert d["debugger_command"].startswith("PATH=/bin:") and "ddd $daemon_directory" in d["debugger_command"]
    assert d["virtual_uid_maps"] == "static:4000"
    assert params[0].line == 1 and params[-1].line == 38


def test_parse_error_names_file_line_and_fix():
    with pytest.raises(MailConfigError, match=r"x.cf:2: expected 'name = value'.*add '='"):
        mainconf.parse_main_cf("a = b\nnonsense line\n", "x.cf")
    with pytest.raises(MailConfigError, match=r"x.cf:1: continuation"):
        mainconf.parse_main_cf("  indented = 1\n", "x.cf")


def test_map_parse_errors():
    assert [e.key for e in parse_map(open(SEED_DIR / "vmbox").read())] == [
        "admin@exampledomain.ca", "test@exampledomain.ca"]
    with pytest.raises(MailConfigError, match=r"m:3: entry 'lonely' has a key but no value"):
        parse_map("# c\na b\nlonely\n", "m")


def test_quirks_point_out_red_hat_paths():
    quirks = {q.param: q for q in mainconf.seed_quirks(mainconf.load_main_cf(SEED_MAIN))}
    assert "Red Hat" in quirks["daemon_directory"].note
    assert quirks["daemon_directory"].line == 3
    assert "sendmail_path" in quirks and "compatibility_level" in quirks


def test_rendered_main_cf_keeps_seed_overrides_only_paths(tmp_path):
    run = tmp_path / "run"
    cfg = PostfixConfig(run_dir=run)
    rendered = mainconf.as_dict(mainconf.parse_main_cf(cfg.main_cf_text()))
    seed = mainconf.as_dict(mainconf.load_main_cf(SEED_MAIN))
    changed = {k for k in seed if rendered[k] != seed[k]}
    assert changed == {"queue_directory", "data_directory", "daemon_directory",
                       "alias_maps", "alias_database", "sendmail_path", "newaliases_path",
                       "mailq_path", "sample_directory", "readme_directory",
                       "virtual_mailbox_base", "virtual_mailbox_maps",
                       "virtual_mailbox_domains", "virtual_alias_maps"}
    for k in changed - {"daemon_directory", "sendmail_path", "newaliases_path", "mailq_path",
                        "sample_directory", "readme_directory"}:
        assert str(run) in rendered[k], k
    assert rendered["inet_interfaces"] == "all"          # the lab keeps the seed's value
    assert rendered["myhostname"] == "mail.exampledomain.ca"
    assert rendered["maillog_file"].startswith(rendered["maillog_file_prefixes"])
    assert "disable_dns_lookups" not in rendered and "smtp_dns_support_level" not in rendered


def test_sqlite_backend_points_maps_at_cf_files(tmp_path):
    cfg = PostfixConfig(run_dir=tmp_path / "run", backend="sqlite")
    d = mainconf.as_dict(mainconf.parse_main_cf(cfg.main_cf_text()))
    assert d["virtual_mailbox_maps"] == f"sqlite:{tmp_path}/run/conf/vmbox.cf"


def test_master_cf_has_chroot_off():
    text = render_master_cf(25)
    rows = [ln.split() for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert rows[0][:2] == ["smtp", "inet"]
    assert all(r[4] == "n" for r in rows)


@pytest.mark.skipif(os.geteuid() != 0, reason="render chowns to postfix and 4000")
@pytest.mark.parametrize("backend", ["hash", "sqlite"])
def test_render_and_postfix_check(backend):
    with tempfile.TemporaryDirectory(prefix="lk-mail-t-") as d:
        os.chmod(d, 0o755)
        cfg = PostfixConfig(run_dir=Path(d) / "run", backend=backend, port=2525,
                            listen="127.0.0.1")
        cfg.render()
        assert cfg.check() == []
        st = (cfg.run_dir / "vhosts").stat()
        assert (st.st_uid, st.st_gid) == (4000, 4000)
        if backend == "hash":
            assert (cfg.conf_dir / "vmbox.db").exists()
        else:
            assert (cfg.conf_dir / "maps.sqlite").exists()


def test_loopback_config_cannot_reach_the_machines_resolver_or_the_internet():
    from labkit.mail.postfix import LOOPBACK_ONLY, LoopbackPostfix
    pf = LoopbackPostfix(sinks=())
    try:
        d = mainconf.as_dict(mainconf.parse_main_cf(pf.cfg.main_cf_text()))
    finally:
        pf.stop()
    assert not pf.tmp.exists()
    for k, v in LOOPBACK_ONLY.items():
        assert d[k] == v
    assert d["inet_interfaces"] == "127.0.0.1" and d["default_transport"].startswith("error:")
