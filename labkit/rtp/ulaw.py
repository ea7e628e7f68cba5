"""G.711 µ-law: per-sample codec, the two lookup tables, bulk PCM <-> µ-law, 20 ms framing.

The seed's ACD "supports g.711 uLaw only". These calls take and give bytes, like the old
audioop.lin2ulaw / ulaw2lin (audioop is gone in Python 3.13); numpy speeds up the bulk
calls when present. The framing constants (8 kHz, 20 ms = 160 samples = 160 bytes) are
what every other module of labkit.rtp paces and checks against.
"""
from __future__ import annotations

import struct
import sys
from array import array
from typing import Iterable

try:  # numpy is optional: it only makes the bulk conversions faster.
    import numpy as _np
except ImportError:  # pragma: no cover - numpy comes with matplotlib in labkit's env
    _np = None

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000   # 160 samples = 160 µ-law bytes
FRAME_SECONDS = FRAME_MS / 1000
ULAW_SILENCE = 0xFF   # the code for +0

# ----- G.711 µ-law -----------------------------------------------------------------------
# G.711 works on 14-bit magnitudes: bias 33, eight segments of 16 steps, the step doubling
# per segment; codes are sent with all bits inverted. Negative 16-bit samples are mapped
# with one's complement (~x), as the ITU-T G.191 reference code does, so +x and -x-1 encode
# symmetrically and both 0 and -1 are "zero".
_BIAS = 33
_MAX_MAG = 0x1FFF - _BIAS   # 8158: largest magnitude before the biased value overflows


def ulaw_encode_sample(x: int) -> int:
    """One 16-bit linear sample (-32768..32767) to its µ-law code byte."""
    if x >= 0:
        mag, sign = x >> 2, 0x80
    else:
        mag, sign = (~x) >> 2, 0x00
    mag = min(mag, _MAX_MAG) + _BIAS          # 33..8191
    seg = mag.bit_length() - 6                # 0..7
    mant = (mag >> (seg + 1)) & 0x0F
    return (sign | (seg << 4) | mant) ^ 0x7F  # invert segment and mantissa bits


def ulaw_decode_sample(code: int) -> int:
    """One µ-law code byte to the 16-bit linear value at the middle of its step."""
    code = ~code & 0xFF
    seg = (code >> 4) & 0x07
    mant = code & 0x0F
    mag = (((mant << 1) + _BIAS) << seg) - _BIAS   # 14-bit magnitude
    return -(mag << 2) if code & 0x80 else (mag << 2)


#: Linear value of each µ-law code (0x00 -> -32124, 0x80 -> 32124, 0xFF and 0x7F -> 0).
ULAW_DECODE: tuple[int, ...] = tuple(ulaw_decode_sample(c) for c in range(256))
#: µ-law code of each 16-bit sample, indexed by ``sample & 0xFFFF``.
ULAW_ENCODE: bytes = bytes(ulaw_encode_sample(i - 65536 if i >= 32768 else i)
                           for i in range(65536))
_DECODE_LE = [struct.pack("<h", v) for v in ULAW_DECODE]
if _np is not None:
    _NP_ENCODE = _np.frombuffer(ULAW_ENCODE, dtype=_np.uint8)
    _NP_DECODE = _np.array(ULAW_DECODE, dtype="<i2")


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """Signed 16-bit little-endian PCM bytes to µ-law bytes (like audioop.lin2ulaw(pcm, 2))."""
    if len(pcm) % 2:
        raise ValueError(f"16-bit PCM needs an even number of bytes, got {len(pcm)}")
    if _np is not None:
        samples = _np.frombuffer(pcm, dtype="<u2")
        return _NP_ENCODE[samples].tobytes()
    samples = array("h", pcm)
    if sys.byteorder != "little":  # pragma: no cover
        samples.byteswap()
    return bytes(ULAW_ENCODE[s & 0xFFFF] for s in samples)


def ulaw_to_pcm16(data: bytes) -> bytes:
    """µ-law bytes to signed 16-bit little-endian PCM bytes (like audioop.ulaw2lin(d, 2))."""
    if _np is not None:
        return _NP_DECODE[_np.frombuffer(data, dtype=_np.uint8)].tobytes()
    return b"".join(_DECODE_LE[c] for c in data)


def ulaw_encode(samples: Iterable[int]) -> bytes:
    """Integer samples (clipped to 16 bits) to µ-law bytes."""
    return bytes(ULAW_ENCODE[max(-32768, min(32767, int(s))) & 0xFFFF] for s in samples)


def ulaw_decode(data: bytes) -> list[int]:
    """µ-law bytes to a list of integer samples."""
    return [ULAW_DECODE[c] for c in data]
