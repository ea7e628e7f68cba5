"""RTP for labkit: G.711 µ-law, RTP packets, playlists, the one-thread pacer, capture checks.

One job per module: ``ulaw`` (codec, tables, 20 ms framing), ``packet`` (RFC 3550 build /
parse), ``playlist`` (prompts from data/acd and what a waiting caller hears), ``scheduler``
(``RtpScheduler``: one asyncio loop in one thread for all streams), ``check`` (``check_rtp``
over a capture). The ACD (labkit.acd.prompts) is one user; notebooks and tests are others.
Measuring the pacer is benchmark code and lives in bench/rtp_streams.py.
"""
from .check import RtpReport, StreamReport, check_rtp
from .packet import PT_PCMU, RtpError, RtpPacket
from .playlist import PROMPT_DIR, Playlist, load_prompt
from .scheduler import RtpScheduler, SchedulerStats
from .ulaw import (
    FRAME_MS, FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE, ULAW_DECODE, ULAW_ENCODE, ULAW_SILENCE,
    pcm16_to_ulaw, ulaw_decode, ulaw_decode_sample, ulaw_encode, ulaw_encode_sample, ulaw_to_pcm16,
)

__all__ = [
    "ulaw_encode_sample", "ulaw_decode_sample", "pcm16_to_ulaw", "ulaw_to_pcm16",
    "ulaw_encode", "ulaw_decode", "ULAW_DECODE", "ULAW_ENCODE", "ULAW_SILENCE",
    "RtpPacket", "RtpError", "PT_PCMU", "SAMPLE_RATE", "FRAME_MS", "FRAME_SAMPLES", "FRAME_SECONDS",
    "Playlist", "PROMPT_DIR", "load_prompt",
    "RtpScheduler", "SchedulerStats", "check_rtp", "RtpReport", "StreamReport",
]
