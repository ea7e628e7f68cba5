"""labkit.dns.lint: each rule on a small zone, and the seed's two real mistakes."""
import shutil
from pathlib import Path

import pytest

from labkit.dns.lint import lint_named_conf, lint_zone, read_postfix_maps

REPO = Path(__file__).resolve().parents[1]
EC2 = REPO / "topologies" / "ec2"
HEAD = "$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 300\n  IN NS ns\nns IN A 10.0.0.1\n"


def lint(tmp_path, body, origin="t.lab", **kw):
    f = tmp_path / "zone"
    f.write_text(HEAD + body)
    return lint_zone(f, origin, **kw)


def rules(findings):
    return [(f.rule, f.line) for f in findings]


def test_clean_zone_has_no_findings(tmp_path):
    assert lint(tmp_path, "@ IN MX 10 mail\nmail IN A 10.0.0.2\n") == []


def test_seed_zone_flags_ns_dot_and_www_rname():
    mb, dom = read_postfix_maps(EC2 / "vmbox", EC2 / "valias", EC2 / "vdomains")
    fs = lint_named_conf(EC2 / "named.conf", mb, dom)
    assert sorted(rules(fs)) == [("ns-toplevel", 9), ("soa-rname", 2)]
    ns = next(f for f in fs if f.rule == "ns-toplevel")
    assert ns.file.endswith("exampledomain.ca") and "ns.exampledomain.ca." in ns.fix
    rn = next(f for f in fs if f.rule == "soa-rname")
    assert "www@exampledomain.ca" in rn.message and "admin.exampledomain.ca." in rn.fix
    assert str(ns).startswith(f"{ns.file}:9: NS target 'ns.'")   # diag format: errors unmarked
    assert ns.severity == "error"


def test_toplevel_mx_target(tmp_path):
    assert rules(lint(tmp_path, "@ IN MX 10 mail.\n")) == [("ns-toplevel", 5)]


def test_mx_to_cname(tmp_path):
    fs = lint(tmp_path, "@ IN MX 10 alias\nalias IN CNAME real\nreal IN A 10.0.0.3\n")
    assert rules(fs) == [("mx-cname", 5)] and "real.t.lab." in fs[0].fix


def test_mx_without_address(tmp_path):
    assert rules(lint(tmp_path, "@ IN MX 10 mail\nmail IN TXT \"no address\"\n")) == [("mx-no-address", 5)]


def test_missing_glue_for_delegation(tmp_path):
    fs = lint(tmp_path, "child IN NS ns1.child\n       IN NS ns2.child\nns2.child IN A 10.0.1.2\n")
    assert rules(fs) == [("missing-glue", 5)] and "ns1.child.t.lab." in fs[0].message


def test_apex_ns_without_address(tmp_path):
    fs = lint(tmp_path, "@ IN NS ns2\n")
    assert ("missing-glue", 5) in rules(fs)


def test_rname_is_apex_and_rname_not_in_maps(tmp_path):
    f = tmp_path / "z"
    f.write_text("$TTL 300\n@ IN SOA ns t.lab. 1 1 1 1 1\n IN NS ns\nns IN A 10.0.0.1\n")
    assert rules(lint_zone(f, "t.lab")) == [("soa-rname", 2)]
    f.write_text("$TTL 300\n@ IN SOA ns bob 1 1 1 1 1\n IN NS ns\nns IN A 10.0.0.1\n")
    assert lint_zone(f, "t.lab") == []              # no maps: bob@t.lab may well exist
    fs = lint_zone(f, "t.lab", mailboxes={"admin@t.lab"}, mail_domains={"t.lab"})
    assert rules(fs) == [("soa-rname", 2)] and "bob@t.lab" in fs[0].message


def test_parse_error_has_line_and_fix(tmp_path):
    fs = lint(tmp_path, "www IN A 1.2.3\n")
    assert fs[0].rule == "parse" and fs[0].line == 5 and fs[0].fix


@pytest.mark.skipif(shutil.which("named-checkzone") is None, reason="no named-checkzone")
def test_named_checkzone_findings_are_converted(tmp_path):
    # Something only BIND checks: check-names refuses '_' in a host name.
    fs = lint(tmp_path, "bad_host IN A 10.0.0.9\n")
    assert rules(fs) == [("named-checkzone", 5)]
    assert "bad owner name" in fs[0].message and "'_'" in fs[0].fix
    # A message without file:line gets the line of the record it names.
    f = tmp_path / "z2"
    f.write_text("$TTL 300\n@ IN SOA ns hm 1 1 1 1 1\n IN NS ns\nns IN A 10.0.0.1\n"
                 "www IN CNAME ns\n@ IN MX 10 www\n")
    fs = lint_zone(f, "t.lab", bind_checks=False)
    assert rules(fs) == [("mx-cname", 6)]
    from labkit.dns.lint import run_named_checkzone
    from labkit.dns.zone import load_zone
    bind = run_named_checkzone(f, "t.lab", load_zone(f, "t.lab"))
    assert [(x.line, "is a CNAME" in x.message) for x in bind] == [(5, True)]   # the line of www


def test_named_conf_missing_zone_file(tmp_path):
    (tmp_path / "named.conf").write_text('zone "t.lab" IN {\n  type master;\n  file "nothere";\n};\n')
    fs = lint_named_conf(tmp_path / "named.conf")
    assert rules(fs) == [("zone-file", 3)]


def test_named_conf_syntax_error(tmp_path):
    (tmp_path / "named.conf").write_text('zone "t.lab" IN {\n  type master\n  file "z";\n};\n')
    fs = lint_named_conf(tmp_path / "named.conf")
    assert fs and fs[0].line in (2, 3)


def test_format_findings_is_relative_and_stable():
    from labkit.lessons.dns import format_findings
    text = format_findings(lint_named_conf(EC2 / "named.conf"), base=REPO)
    assert text.splitlines()[0].startswith("topologies/ec2/exampledomain.ca:9: NS target 'ns.'")
    assert format_findings([]) == "no findings"


def test_delegation_to_the_cut_itself_needs_glue(tmp_path):
    """'child NS child' names a server AT the cut: it lies inside the child like ns1.child does."""
    fs = lint(tmp_path, "child IN NS child\n", bind_checks=False)
    assert rules(fs) == [("missing-glue", 5)]
    assert fs[0].message == ("delegation of child.t.lab. to child.t.lab. has no glue: child.t.lab. lies "
                             "inside child.t.lab., so nobody can find its address")
    assert str(fs[0]).startswith(f"{tmp_path / 'zone'}:5: delegation of child.t.lab.")
    assert lint(tmp_path, "child IN NS child\nchild IN A 10.0.1.1\n", bind_checks=False) == []
    # a target outside the child needs no glue here
    assert lint(tmp_path, "child IN NS ns\n", bind_checks=False) == []
