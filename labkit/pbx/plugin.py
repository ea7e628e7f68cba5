"""The PBX topic's plug-in: the ``pbx`` service (Kamailio, configured from Asterisk files)."""
from __future__ import annotations

from typing import Any

from labkit.lab.errors import TopologyError, Where
from labkit.lab.params import Param
from labkit.lab.plugins import CheckKind, Plugin, ServiceKind


def check_dialplan(params: dict[str, Any], where: Where) -> None:
    """At load: the sip.conf and extensions.conf read as one dial plan, so a bad line stops
    `labkit up` (and `labkit lint`) with its file:line before any namespace exists."""
    from . import dialplan

    try:
        dialplan.load(params["sip_conf"], params["extensions"])
    except dialplan.DialplanError as exc:
        first, more = exc.headline()
        raise TopologyError(first.where if first.file else where, first.message + more,
                            first.fix or "fix the dial-plan line named here") from None


plugin = Plugin(
    name="pbx",
    services=[
        ServiceKind("pbx", "labkit.pbx.service:PbxService",
                    {"sip_conf": Param("file", required=True, doc="e.g. sip_conf: acd/sip.conf"),
                     "extensions": Param("file", required=True, doc="e.g. extensions: acd/extensions.conf"),
                     "port": Param("port", default=5060), "listen": Param("address")},
                    validate="labkit.pbx.plugin:check_dialplan",
                    doc="Kamailio as the lab's PBX: registrar, proxy and presence server, "
                        "routing by an Asterisk sip.conf and extensions.conf"),
    ],
    checks=[
        CheckKind("sip_registered", "labkit.pbx.checks:registered",
                  {"pbx": Param("node", required=True, doc="e.g. pbx: pbx (the node running the pbx service)"),
                   "aor": Param("str", required=True, doc="e.g. aor: phone1"),
                   "service": Param("str", default="pbx")},
                  describe=lambda p: f"sip_registered {p['aor']} at {p['pbx']}",
                  doc="the AOR is in the PBX's location table (Kamailio's ul.dump)"),
    ],
)
