"""Files sipp needs next to its scenarios (data/sipp/): a PCMU RTP capture for play_pcap_audio.

sipp ships only a G.711 A-law capture (g711a.pcap, PT 8) which the ACD must refuse; this writes
``data/sipp/pcmu.pcap`` (PT 0, 20 ms, consecutive sequence numbers) from the welcome prompt.
Run ``python -m labkit.acd.sippfiles`` to remake it.  Writing a pcap sends nothing.
"""
from __future__ import annotations

import sys
from pathlib import Path

from labkit import paths, rtp

SIPP_DIR = paths.data("sipp")


def make_pcmu_pcap(path: Path = SIPP_DIR / "pcmu.pcap", seconds: float = 2.0) -> Path:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    audio = rtp.load_prompt("welcome")
    frames = int(seconds * 1000 / rtp.FRAME_MS)
    pkts = []
    for i in range(frames):
        payload = audio[i * 160:(i + 1) * 160].ljust(160, b"\xff")
        packet = rtp.RtpPacket(sequence=1000 + i, timestamp=160 * i, ssrc=0x5151A0A0,
                              payload=payload, payload_type=0, marker=(i == 0)).build()
        p = Ether() / IP(src="127.0.0.2", dst="127.0.0.1") / UDP(sport=6000, dport=6002) / packet
        p.time = 1_700_000_000 + i * rtp.FRAME_SECONDS
        pkts.append(p)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrpcap(str(path), pkts)
    return path


if __name__ == "__main__":
    print(make_pcmu_pcap(*(Path(a) for a in sys.argv[1:2])))
