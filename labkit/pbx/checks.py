"""The PBX's check kind: ``sip_registered`` (is an AOR in Kamailio's location table?).

    checks:
      - sip_registered: {pbx: pbx, aor: phone1}

It asks the running Kamailio over its control socket (``kamcmd ul.dump``), so a phone with a
wrong secret, or an ACD that cannot register its queue, fails `labkit check` by name."""
from __future__ import annotations

from typing import Any

from . import kamailio


def registered(ctx: Any, p: dict[str, Any]) -> tuple[bool, str]:
    socket = ctx.node(p["pbx"]).run_dir / p["service"] / kamailio.CTL_SOCKET
    try:
        regs = kamailio.registrations(kamailio.kamcmd(socket, "ul.dump"))
    except RuntimeError as exc:
        return False, f"cannot ask the PBX on {p['pbx']}: {exc}"
    contacts = regs.get(p["aor"])
    if not contacts:
        return False, f"{p['aor']} is not registered (registered: {', '.join(regs) or 'none'})"
    return True, f"{p['aor']} at {', '.join(c.split(';')[0] for c in contacts)}"
