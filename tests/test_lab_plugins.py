"""labkit.lab.plugins: the registry refuses two plug-ins that claim one name, naming both."""
from __future__ import annotations

import pytest

from labkit.lab.params import Param
from labkit.lab.plugins import CheckKind, Command, Plugin, PluginError, Registry, ServiceKind, registry


def svc(name: str) -> ServiceKind:
    return ServiceKind(name, "labkit.lab.simple:TcpEchoService")


def chk(name: str) -> CheckKind:
    return CheckKind(name, "labkit.lab.checks:reach", {"to": Param("target")})


def cmd(name: str) -> Command:
    return Command(name, "help", lambda ap: None, lambda args: 0)


@pytest.mark.parametrize("first,second,what", [
    (Plugin("a", services=[svc("web")]), Plugin("b", services=[svc("web")]), "service 'web'"),
    (Plugin("a", checks=[chk("ping")]), Plugin("b", checks=[chk("ping")]), "check 'ping'"),
    (Plugin("a", udp_payloads={53: bytes}), Plugin("b", udp_payloads={53: bytes}), "udp payload '53'"),
    (Plugin("a", commands=[cmd("go")]), Plugin("b", commands=[cmd("go")]), "command 'go'"),
])
def test_a_name_claimed_twice_is_an_error_naming_both(first, second, what):
    reg = Registry()
    reg.add(first)
    with pytest.raises(PluginError) as info:
        reg.add(second)
    assert str(info.value) == (f"plug-ins 'a' and 'b' both declare {what} (fix: rename one, "
                               "or uninstall the package you do not want)")


def test_the_same_name_in_different_tables_is_fine():
    reg = Registry()
    reg.add(Plugin("a", services=[svc("dns")], checks=[chk("web")]))
    reg.add(Plugin("b", checks=[chk("dns")], services=[svc("web")], commands=[cmd("dns")]))
    assert sorted(reg.services) == ["dns", "web"] and sorted(reg.checks) == ["dns", "web"]
    assert reg.owner[("services", "dns")] == "a" and reg.owner[("checks", "dns")] == "b"
    assert reg.service("web").name == "web" and [p.name for p in reg.plugins] == ["a", "b"]


def test_installed_plugins_register_the_engine_kinds_once():
    reg = registry()
    assert {"reach", "no_reach", "port_open", "port_closed"} <= set(reg.checks)
    assert {"http", "tcp-echo", "dhcp-client"} <= set(reg.services)
    assert reg.owner[("checks", "reach")] == "core"
