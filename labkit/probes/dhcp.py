"""DHCP with scapy, run inside a lab host: a whole DORA as a new client, and its release.

The probe plays a client that the server has never seen: it sends with a made-up
source MAC and chaddr (`client_mac("tag")`, deterministic, locally administered)
on the host's eth0, and never configures the address on the host. So one host can
play many clients, and the host's own lease is left alone.

Results are plain dicts (picklable for LabNode.call).
"""
from __future__ import annotations

import hashlib
import random

from labkit.lab.safety import require_lab_netns

NAMES = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK", 7: "RELEASE"}


def client_mac(tag: str) -> str:
    """A locally administered unicast MAC derived from `tag`: the same tag, the same client."""
    h = hashlib.sha256(tag.encode()).digest()
    return ":".join(f"{b:02x}" for b in (b"\x02\xdc" + h[:4]))


def _chaddr(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":")) + b"\x00" * 10


def _opts(pkt) -> dict:
    from scapy.all import DHCP
    return {o[0]: o[1] for o in pkt[DHCP].options if isinstance(o, tuple)}


def dora(mac: str, iface: str = "eth0", timeout: float = 3.0, requested: str | None = None,
         release: bool = False) -> dict:
    """DISCOVER, OFFER, REQUEST, ACK for client `mac`; what the server answered.

    requested: an address the client asks for in its DISCOVER (option 50), e.g. an
    excluded one, to see that the server offers something else.
    Returns {"mac", "messages": [...], "address", "router", "dns", "mask",
    "lease_time", "server", "released"}; "address" is None if no ACK came.
    """
    require_lab_netns("DHCP DORA")
    from scapy.all import BOOTP, DHCP, IP, UDP, Ether, conf, srp1

    conf.checkIPaddr = False   # the offer comes from the server's address, not from the broadcast
    conf.verb = 0
    xid = random.Random(mac).randrange(1, 2**32)
    out: dict = {"mac": mac, "messages": [], "address": None, "router": None, "dns": None,
                 "mask": None, "lease_time": None, "server": None, "released": False}
    base = (Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255") /
            UDP(sport=68, dport=67))
    dopts = [("message-type", "discover")] + ([("requested_addr", requested)] if requested else [])
    out["messages"].append("DISCOVER")
    offer = srp1(base / BOOTP(chaddr=_chaddr(mac), xid=xid, flags=0x8000) / DHCP(options=dopts + ["end"]),
                 iface=iface, timeout=timeout)
    if offer is None or DHCP not in offer or _opts(offer).get("message-type") != 2:
        return out
    o = _opts(offer)
    out["messages"].append(f"OFFER {offer[BOOTP].yiaddr}")
    server = o.get("server_id")
    req = base / BOOTP(chaddr=_chaddr(mac), xid=xid, flags=0x8000) / DHCP(options=[
        ("message-type", "request"), ("requested_addr", offer[BOOTP].yiaddr), ("server_id", server), "end"])
    out["messages"].append(f"REQUEST {offer[BOOTP].yiaddr}")
    ack = srp1(req, iface=iface, timeout=timeout)
    if ack is None or DHCP not in ack:
        return out
    a = _opts(ack)
    kind = NAMES.get(a.get("message-type"), str(a.get("message-type")))
    out["messages"].append(f"{kind} {ack[BOOTP].yiaddr}" if kind == "ACK" else kind)
    if kind != "ACK":
        return out
    dns = a.get("name_server")
    out.update(address=ack[BOOTP].yiaddr, router=a.get("router"), server=server,
               dns=list(dns) if isinstance(dns, (list, tuple)) else dns,
               mask=a.get("subnet_mask"), lease_time=a.get("lease_time"))
    if release:
        out["released"] = _release(mac, ack[BOOTP].yiaddr, server, ack[Ether].src, iface)
        out["messages"].append("RELEASE")
    return out


def _release(mac: str, addr: str, server: str, server_mac: str, iface: str) -> bool:
    """DHCPRELEASE, unicast to the server as RFC 2131 says; the server sends no answer."""
    from scapy.all import BOOTP, DHCP, IP, UDP, Ether, sendp
    sendp(Ether(src=mac, dst=server_mac) / IP(src=addr, dst=server) / UDP(sport=68, dport=67) /
          BOOTP(chaddr=_chaddr(mac), ciaddr=addr, xid=random.randrange(1, 2**32)) /
          DHCP(options=[("message-type", "release"), ("server_id", server), "end"]),
          iface=iface, verbose=0)
    return True


def release(mac: str, address: str, server: str, iface: str = "eth0") -> bool:
    """Release a lease held by client `mac` (the server's MAC is found by ARP)."""
    require_lab_netns("DHCP release")
    from scapy.all import getmacbyip
    server_mac = getmacbyip(server)
    if server_mac is None:
        return False
    return _release(mac, address, server, server_mac, iface)


def many(macs: list[str], iface: str = "eth0", timeout: float = 3.0, release: bool = False) -> list[dict]:
    """dora() for each MAC in turn (one child process for a whole test)."""
    return [dora(m, iface, timeout, release=release) for m in macs]
