"""The PBX topic's plug-in: the ``pbx`` service (Kamailio, configured from Asterisk files)."""
from __future__ import annotations

from labkit.lab.params import Param
from labkit.lab.plugins import Plugin, ServiceKind

plugin = Plugin(
    name="pbx",
    services=[
        ServiceKind("pbx", "labkit.pbx.service:PbxService",
                    {"sip_conf": Param("file", required=True, doc="e.g. sip_conf: acd/sip.conf"),
                     "extensions": Param("file", required=True, doc="e.g. extensions: acd/extensions.conf"),
                     "port": Param("port", default=5060), "listen": Param("address")},
                    doc="Kamailio as the lab's PBX: registrar, proxy and presence server, "
                        "routing by an Asterisk sip.conf and extensions.conf"),
    ],
)
