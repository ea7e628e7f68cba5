"""A scapy DHCP client for checks: lease an address for a made-up MAC, without configuring it.

Run inside a lab host (node.call("labkit.ios.dhcpprobe:lease", "eth0", mac)); it
never touches the host's own address, so one host can play many clients and a
test can fill a pool and see the next client get no offer.
"""
from __future__ import annotations

import random


def _mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def lease(iface: str, mac: str, timeout: float = 8.0, request: bool = True) -> str | None:
    """DISCOVER (and REQUEST) for `mac`; the leased address, or None when no server offers."""
    from scapy.all import BOOTP, DHCP, IP, UDP, Ether, conf, srp1  # imported inside the node

    conf.checkIPaddr = False   # offers come from the server's address, not the broadcast we sent
    xid = random.randrange(1, 2**32)
    chaddr = _mac_bytes(mac) + b"\x00" * 10
    base = (Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255") /
            UDP(sport=68, dport=67))
    discover = base / BOOTP(chaddr=chaddr, xid=xid, flags=0x8000) / \
        DHCP(options=[("message-type", "discover"), "end"])
    offer = srp1(discover, iface=iface, timeout=timeout, verbose=0)
    if offer is None or BOOTP not in offer:
        return None
    opts = {o[0]: o[1] for o in offer[DHCP].options if isinstance(o, tuple)}
    if opts.get("message-type") != 2:
        return None
    addr = offer[BOOTP].yiaddr
    if not request:
        return addr
    req = base / BOOTP(chaddr=chaddr, xid=xid, flags=0x8000) / DHCP(options=[
        ("message-type", "request"), ("requested_addr", addr), ("server_id", opts.get("server_id")), "end"])
    ack = srp1(req, iface=iface, timeout=timeout, verbose=0)
    if ack is None or DHCP not in ack:
        return None
    aopts = {o[0]: o[1] for o in ack[DHCP].options if isinstance(o, tuple)}
    return ack[BOOTP].yiaddr if aopts.get("message-type") == 5 else None


def offer_options(iface: str, mac: str, timeout: float = 8.0) -> dict:
    """The options of the offer for `mac` (router, name_server, lease_time...), {} if none."""
    from scapy.all import BOOTP, DHCP, IP, UDP, Ether, conf, srp1

    conf.checkIPaddr = False
    pkt = (Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255") /
           UDP(sport=68, dport=67) / BOOTP(chaddr=_mac_bytes(mac) + b"\x00" * 10,
                                            xid=random.randrange(1, 2**32), flags=0x8000) /
           DHCP(options=[("message-type", "discover"), "end"]))
    offer = srp1(pkt, iface=iface, timeout=timeout, verbose=0)
    if offer is None or DHCP not in offer:
        return {}
    out = {o[0]: o[1] for o in offer[DHCP].options if isinstance(o, tuple)}
    out["yiaddr"] = offer[BOOTP].yiaddr
    return out
