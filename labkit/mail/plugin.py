"""The mail topic's plug-in: Postfix, the remote MX sinks, and `labkit mail ...`."""
from __future__ import annotations

import argparse

from labkit.lab.params import Param, only_port
from labkit.lab.plugins import Command, Plugin, ServiceKind


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--node", default="ec2", help="the node running Postfix (default: ec2)")
    p.add_argument("args", nargs=argparse.REMAINDER)


def _run(args: argparse.Namespace) -> int:
    """The seed's "Automation" section on the running lab's Postfix (see labkit.mail.admin)."""
    from labkit.lab.runtime import Lab

    from . import admin

    svc = Lab.attach(args.instance).service(args.node, "postfix")
    rest = args.args[1:] if args.args[:1] == ["--"] else args.args
    return admin.main(["--conf", str(svc.conf_dir), *rest])


plugin = Plugin(
    name="mail",
    services=[
        ServiceKind("postfix", "labkit.mail.service:PostfixService",
                    {"config": Param("file", required=True, doc="e.g. config: ec2/main.cf"),
                     "backend": Param("str", default="hash", choices=("hash", "sqlite")),
                     "port": Param("port", default=25),
                     "myhostname": Param("hostname", default="mail.exampledomain.ca"),
                     "quiet": Param("seconds", default=0.3),
                     "listen": Param("address"),
                     "compat": Param("str", default="3.6", choices=("3.6", "2.6"),
                                     doc="2.6: relay rules of the author's Postfix 2.6 "
                                         "(554 5.7.1, mynetworks_style = subnet)")},
                    doc="Postfix with the node's main.cf and virtual maps"),
        ServiceKind("smtpsink", "labkit.mail.service:SinkService",
                    # the readiness probe asks 25/tcp (SinkService.ports), so only 25 can come up
                    {"port": Param(only_port(25, "the sink's readiness probe asks 25/tcp only"), default=25),
                     "hostname": Param("hostname", doc="default: mx.NODE.example"),
                     "listen": Param("address")},
                    doc="a remote MX that keeps what it gets"),
    ],
    commands=[Command("mail", "add domains, mailboxes and aliases to the lab's Postfix: labkit mail "
                      "add-mailbox ADDRESS | add-alias ADDRESS TARGET | add-domain DOMAIN | list",
                      _configure, _run)],
)
