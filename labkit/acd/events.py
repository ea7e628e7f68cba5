"""Bodies the ACD reads and phones write: RFC 4235 dialog-info, RFC 3863 PIDF, INFO DTMF.

The ACD only needs one bit from a device: is it idle (no early or confirmed dialog) or busy.
Both event packages reduce to :class:`DeviceState`.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from labkit.digits import is_uint

DIALOG_INFO_NS = "urn:ietf:params:xml:ns:dialog-info"
PIDF_NS = "urn:ietf:params:xml:ns:pidf"
CT_DIALOG_INFO = "application/dialog-info+xml"
CT_PIDF = "application/pidf+xml"
CT_DTMF_RELAY = "application/dtmf-relay"
CT_DTMF = "application/dtmf"
DTMF_CHARS = set("0123456789*#ABCD")


class BodyError(ValueError):
    """A NOTIFY or INFO body we cannot read; the request gets a 400 with this reason."""


@dataclass
class DeviceState:
    """What a NOTIFY says about the phone: ``idle`` / ``busy`` plus the Call-IDs it is in."""
    idle: bool
    call_ids: set[str] = field(default_factory=set)
    full: bool = True


def _xml_root(body: bytes, what: str, root_name: str) -> ET.Element:
    """The root of an XML NOTIFY body, which must be ``root_name``; BodyError otherwise."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise BodyError(f"{what} is not XML: {exc}") from None
    if not root.tag.endswith(root_name):
        raise BodyError(f"root element is {root.tag!r}, expected {root_name}")
    return root


def _dialogs(root: ET.Element) -> list[tuple[str, str]]:
    """(call-id, state) of each <dialog> under a dialog-info root, in document order."""
    out = []
    for d in root:
        if not d.tag.endswith("dialog"):
            continue
        state = ""
        for child in d:
            if child.tag.endswith("state"):
                state = (child.text or "").strip().lower()
        out.append((d.get("call-id", ""), state))
    return out


def dialog_states(body: bytes) -> list[tuple[str, str]]:
    """(call-id, state) of each dialog an RFC 4235 body lists; BodyError if it is not one."""
    return _dialogs(_xml_root(body, "dialog-info", "dialog-info"))


def parse_dialog_info(body: bytes) -> DeviceState:
    root = _xml_root(body, "dialog-info", "dialog-info")
    busy_ids = {call_id for call_id, state in _dialogs(root)
                if state in ("trying", "proceeding", "early", "confirmed")}
    return DeviceState(idle=not busy_ids, call_ids=busy_ids, full=root.get("state", "full") == "full")


def build_dialog_info(entity: str, version: int, dialogs: list[tuple[str, str, str, str]]) -> bytes:
    """``dialogs``: (id, call_id, direction, state) with state in early/confirmed/terminated."""
    root = ET.Element("dialog-info", {"xmlns": DIALOG_INFO_NS, "version": str(version),
                                      "state": "full", "entity": entity})
    for did, cid, direction, state in dialogs:
        d = ET.SubElement(root, "dialog", {"id": did, "call-id": cid, "direction": direction})
        ET.SubElement(d, "state").text = state
    return b'<?xml version="1.0"?>\n' + ET.tostring(root)


def parse_pidf(body: bytes) -> DeviceState:
    """PIDF: basic ``open`` means available; a note/activity saying busy/on-the-phone is busy."""
    root = _xml_root(body, "PIDF", "presence")
    basic = ""
    busy_words = False
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        text = (el.text or "").strip().lower()
        if tag == "basic":
            basic = text
        elif tag in ("note", "on-the-phone", "busy") and (tag != "note" or "busy" in text
                                                             or "phone" in text):
            busy_words = True
    return DeviceState(idle=(basic == "open" and not busy_words))


def build_pidf(entity: str, open_: bool, note: str = "") -> bytes:
    root = ET.Element("presence", {"xmlns": PIDF_NS, "entity": entity})
    t = ET.SubElement(root, "tuple", {"id": "t1"})
    st = ET.SubElement(t, "status")
    ET.SubElement(st, "basic").text = "open" if open_ else "closed"
    if note:
        ET.SubElement(t, "note").text = note
    return b'<?xml version="1.0"?>\n' + ET.tostring(root)


def parse_device_state(content_type: str, body: bytes) -> DeviceState:
    if content_type == CT_DIALOG_INFO:
        return parse_dialog_info(body)
    if content_type == CT_PIDF:
        return parse_pidf(body)
    raise BodyError(f"unsupported NOTIFY body type {content_type!r}")


def parse_dtmf(content_type: str, body: bytes) -> str:
    """The digit of a SIP INFO: ``Signal=5`` (dtmf-relay) or a bare ``5`` (application/dtmf)."""
    text = body.decode("ascii", "replace").strip()
    if content_type == CT_DTMF_RELAY:
        for line in text.replace("\r\n", "\n").split("\n"):
            k, _, v = line.partition("=")
            if k.strip().lower() == "signal":
                d = v.strip().upper()
                if d == "10":
                    d = "*"
                elif d == "11":
                    d = "#"
                if len(d) == 1 and d in DTMF_CHARS:
                    return d
                raise BodyError(f"bad Signal value {v.strip()!r}")
        raise BodyError("dtmf-relay body without Signal=")
    if content_type == CT_DTMF:
        d = text.upper()
        if len(d) == 1 and d in DTMF_CHARS:
            return d
        if is_uint(d) and len(d) <= 2 and int(d) < 16:
            return "0123456789*#ABCD"[int(d)]
        raise BodyError(f"bad application/dtmf body {text[:10]!r}")
    raise BodyError(f"INFO body type {content_type!r} is not DTMF")


def dtmf_relay_body(digit: str, duration_ms: int = 160) -> bytes:
    return f"Signal={digit}\r\nDuration={duration_ms}\r\n".encode()
