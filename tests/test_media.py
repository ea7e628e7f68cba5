"""labkit.rtp: G.711 µ-law, RTP packets, playlists, the one-thread RTP pacer."""

import socket
import threading
import time
import warnings

import pytest

from bench.rtp_streams import measure_streams
from labkit import procs
from labkit.rtp import (
    FRAME_SAMPLES, PROMPT_DIR, ULAW_DECODE, Playlist, RtpError, RtpPacket, RtpScheduler,
    check_rtp, load_prompt, pcm16_to_ulaw, ulaw_decode, ulaw_decode_sample,
    ulaw_encode, ulaw_encode_sample, ulaw_to_pcm16, ulaw,
)

ALL_SAMPLES = range(-32768, 32768)


def _pcm(samples) -> bytes:
    import struct
    samples = list(samples)
    return struct.pack(f"<{len(samples)}h", *samples)


# ----- µ-law ---------------------------------------------------------------------------
def test_ulaw_known_code_points():
    assert ulaw_encode_sample(0) == 0xFF
    assert ulaw_encode_sample(-1) == 0x7F          # one's complement: -1 is "negative zero"
    assert ulaw_encode_sample(32767) == 0x80       # max positive
    assert ulaw_encode_sample(-32768) == 0x00      # max negative
    assert ULAW_DECODE[0xFF] == 0 and ULAW_DECODE[0x7F] == 0
    assert ULAW_DECODE[0x80] == 32124 and ULAW_DECODE[0x00] == -32124
    # values of the G.711 / Sun g711.c expansion table
    assert ULAW_DECODE[0x01] == -31100 and ULAW_DECODE[0x0F] == -16764
    assert ULAW_DECODE[0x10] == -15996 and ULAW_DECODE[0x70] == -120
    assert ULAW_DECODE[0x7E] == -8 and ULAW_DECODE[0xFE] == 8
    assert ULAW_DECODE == tuple(ulaw_decode_sample(c) for c in range(256))


def test_ulaw_decode_table_is_symmetric_and_monotonic():
    for c in range(128):
        assert ULAW_DECODE[c] == -ULAW_DECODE[c | 0x80]
    negatives = [ULAW_DECODE[c] for c in range(0x00, 0x80)]
    positives = [ULAW_DECODE[c] for c in range(0xFF, 0x7F, -1)]
    assert negatives == sorted(negatives) and len(set(negatives)) == 128
    assert positives == sorted(positives) and len(set(positives)) == 128


def test_ulaw_encoding_a_decoded_value_gives_the_code_back():
    for c in range(256):
        expect = 0xFF if c == 0x7F else c          # both zeros encode as +0
        assert ulaw_encode_sample(ULAW_DECODE[c]) == expect


def test_ulaw_round_trip_error_bounds_every_sample():
    # Segment s (14-bit magnitude + 33 in [2^(s+5), 2^(s+6))) has steps of 2^(s+3) in
    # 16-bit units, so the error is at most half a step plus the 2 truncated bits:
    # |x - y| <= (|x| + 132) / 32 + 4. Beyond the clip level (|x| > 32635) it is clipping.
    decoded = ulaw_decode(pcm16_to_ulaw(_pcm(ALL_SAMPLES)))
    for x, y in zip(ALL_SAMPLES, decoded):
        if abs(x) <= 32635:
            assert abs(x - y) <= (abs(x) + 132) / 32 + 4, (x, y)
        else:
            assert abs(y) == 32124
        assert (x >= 0) == (y >= 0) or y == 0


def test_ulaw_bulk_equals_scalar_and_pure_python_equals_numpy(monkeypatch):
    pcm = _pcm(ALL_SAMPLES)
    fast = pcm16_to_ulaw(pcm)
    assert fast == bytes(ulaw_encode_sample(x) for x in ALL_SAMPLES)
    assert fast == ulaw_encode(ALL_SAMPLES)
    fast_dec = ulaw_to_pcm16(bytes(range(256)))
    monkeypatch.setattr(ulaw, "_np", None)
    assert pcm16_to_ulaw(pcm) == fast
    assert ulaw_to_pcm16(bytes(range(256))) == fast_dec == _pcm(ULAW_DECODE)
    with pytest.raises(ValueError, match="even"):
        pcm16_to_ulaw(b"\x00")


def test_ulaw_matches_audioop_where_available():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")   # gone in Python 3.13
    pcm = _pcm(ALL_SAMPLES)
    assert ulaw_to_pcm16(bytes(range(256))) == audioop.ulaw2lin(bytes(range(256)), 2)
    ours, theirs = pcm16_to_ulaw(pcm), audioop.lin2ulaw(pcm, 2)
    # audioop maps negatives with two's complement, G.191 (and we) with one's complement,
    # so they differ only on the 4 negative inputs at each midpoint between two levels, by
    # one level, and there ours is never the farther of the two.
    differ = 0
    for x, a, b in zip(ALL_SAMPLES, ours, theirs):
        if a != b:
            differ += 1
            assert x < 0 and abs(a - b) == 1
            assert abs(x - ULAW_DECODE[a]) <= abs(x - ULAW_DECODE[b])
    assert differ < 0.01 * len(ALL_SAMPLES)


# ----- RTP -----------------------------------------------------------------------------
def test_rtp_header_bytes():
    pkt = RtpPacket(sequence=1, timestamp=160, ssrc=0x11223344, marker=True,
                    payload=b"\xff" * 160)
    wire = pkt.build()
    assert wire[:12] == bytes.fromhex("80 80 0001 000000a0 11223344")
    assert len(wire) == 172
    assert RtpPacket.parse(wire) == pkt


def test_rtp_round_trip_with_csrc_extension_padding():
    pkt = RtpPacket(sequence=65535, timestamp=2**32 - 1, ssrc=7, payload=b"abc",
                    payload_type=8, csrcs=(1, 2, 3), extension=(0xBEDE, b"\x01\x02\x03\x04"),
                    padding=5)
    back = RtpPacket.parse(pkt.build())
    assert back == pkt


def test_rtp_csrc_count_fits_the_4_bit_field():
    pkt = RtpPacket(sequence=1, ssrc=7, csrcs=tuple(range(1, 16)), payload=b"x")
    wire = pkt.build()
    assert wire[0] == 0x8F and len(wire) == 12 + 15 * 4 + 1     # V=2, no X bit, CC=15
    assert RtpPacket.parse(wire) == pkt
    with pytest.raises(RtpError) as err:
        RtpPacket(csrcs=tuple(range(16))).build()
    assert str(err.value) == "at most 15 CSRCs fit the header, got 16"


@pytest.mark.parametrize("data,message", [
    (b"\x80\x00", "12-byte header"),
    (bytes.fromhex("40000001000000a011223344"), "version is 1"),
    (bytes.fromhex("83000001000000a011223344"), "3 CSRCs"),
    (bytes.fromhex("90000001000000a011223344"), "extension"),
    (bytes.fromhex("a0000001000000a011223344ff"), "padding count 255"),
])
def test_rtp_parse_errors(data, message):
    with pytest.raises(RtpError, match=message):
        RtpPacket.parse(data)


# ----- playlists and prompts -------------------------------------------------------------
def frames(n, byte):
    return bytes([byte]) * (FRAME_SAMPLES * n)


def test_playlist_order_welcome_music_announcement():
    music = b"".join(bytes([i]) * FRAME_SAMPLES for i in range(1, 6))   # 5 distinct frames
    pl = Playlist(frames(3, 0xA0), music, frames(2, 0xB0), announce_every=0.08)  # 4 frames
    got = [pl.next_frame()[0] for _ in range(16)]
    assert got == [0xA0] * 3 + [1, 2, 3, 4] + [0xB0] * 2 + [5, 1, 2, 3] + [0xB0] * 2 + [4]
    pl2 = Playlist(frames(3, 0xA0), music, frames(2, 0xB0), announce_every=0.08)
    assert pl2.timeline(16) == [("welcome", 3), ("music", 4), ("announcement", 2),
                                ("music", 4), ("announcement", 2), ("music", 1)]


def test_playlist_announces_every_30_s_of_music_by_default():
    pl = Playlist(frames(2, 0xA0), frames(7, 0x01), frames(3, 0xB0))
    assert pl.timeline(1 + 2 + 1500 + 3 + 1500 + 3 + 10) == [
        ("welcome", 2), ("music", 1500), ("announcement", 3),      # 1500 frames of 20 ms = 30 s
        ("music", 1500), ("announcement", 3), ("music", 11)]


def test_playlist_pads_and_ends_without_music():
    pl = Playlist(welcome=b"\x01" * 200)
    first, second = pl.next_frame(), pl.next_frame()
    assert first == b"\x01" * 160
    assert second == b"\x01" * 40 + b"\xff" * 120    # padded with µ-law silence
    assert pl.next_frame() is None and pl.current == "done"


def test_music_loops_seamlessly_across_its_end():
    pl = Playlist(music=bytes(range(100)))          # shorter than one frame
    assert pl.next_frame() == bytes(range(100)) + bytes(range(60))
    assert pl.next_frame()[:40] == bytes(range(60, 100))


def test_prompt_files():
    total = 0
    for name in ("welcome", "music", "announcement"):
        data = load_prompt(name)
        assert len(data) % FRAME_SAMPLES == 0
        assert 2 * 8000 <= len(data) <= 10 * 8000      # 2..10 s at 8 kHz
        assert len(set(data)) > 50                       # not silence
        total += len(data)
    assert total < 200_000
    with pytest.raises(FileNotFoundError, match="make_prompts"):
        load_prompt("nope")
    timeline = Playlist.standard(announce_every=1).timeline(2000)
    assert [name for name, _ in timeline[:4]] == ["welcome", "music", "announcement", "music"]


# ----- check_rtp on synthetic captures ----------------------------------------------------
def synth(n=50, ssrc=1, seq=65500, ts=2**32 - 800, pt=0, t0=100.0, spacing=0.02):
    return [(t0 + i * spacing,
             RtpPacket(sequence=seq + i, timestamp=ts + 160 * i, ssrc=ssrc, payload_type=pt,
                       marker=i == 0, payload=b"\xff" * 160).build()) for i in range(n)]


def test_check_rtp_good_stream_with_wraparound():
    report = check_rtp(synth(), require_marker=True)
    assert report.ok, report.problems
    (s,) = report.streams
    assert (s.packets, s.seq_gaps, s.ts_errors, s.payload_types) == (50, 0, 0, [0])
    assert abs(s.mean_spacing_ms - 20) < 1e-6 and s.max_jitter_ms < 1e-6
    assert "0x00000001       50   0     yes         0          0  yes" in str(report)


def test_check_rtp_finds_each_problem():
    pkts = synth()
    del pkts[10]                                            # a lost packet
    report = check_rtp(pkts)
    assert not report.ok and report.streams[0].seq_gaps == 1
    assert report.streams[0].ts_errors == 0                  # ts jumped 320 for 2 seq steps
    assert not check_rtp(synth(pt=8)).ok
    bad_ts = synth()
    p = RtpPacket.parse(bad_ts[5][1])
    p.timestamp += 1
    bad_ts[5] = (bad_ts[5][0], p.build())
    assert check_rtp(bad_ts).streams[0].ts_errors == 2
    late = synth()
    late[20] = (late[20][0] + 0.015, late[20][1])
    report = check_rtp(late)
    assert any("15.0 ms off" in x for x in report.problems)
    assert not check_rtp(synth(spacing=0.03)).ok
    report = check_rtp(synth() + [(0.0, b"junk")])
    assert report.undecodable == 1 and not report.ok
    two = check_rtp(synth(ssrc=1) + synth(ssrc=2, seq=5))
    assert two.ok and [s.ssrc for s in two.streams] == [1, 2]
    assert not check_rtp([]).ok


def test_check_rtp_takes_scapy_packets():
    scapy_all = pytest.importorskip("scapy.all")
    capture = []
    for t, data in synth(20):
        pkt = scapy_all.Ether() / scapy_all.IP(dst="127.0.0.1") / scapy_all.UDP(
            sport=4000, dport=5000) / scapy_all.Raw(data)
        pkt = scapy_all.Ether(bytes(pkt))      # as if read from the wire
        pkt.time = t
        capture.append(pkt)
    capture.insert(3, scapy_all.Ether() / scapy_all.ARP())  # not UDP: left out
    report = check_rtp(capture)
    assert report.ok and report.packets == 20 and report.streams[0].packets == 20


# ----- the scheduler on loopback -----------------------------------------------------------
@pytest.fixture
def sink():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5)
    yield rx
    rx.close()


def receive(rx, count):
    out = []
    while len(out) < count:
        data = rx.recv(2048)
        out.append((time.monotonic(), data))
    return out


def test_scheduler_streams_are_continuous(sink):
    welcome = b"".join(bytes([i]) * FRAME_SAMPLES for i in range(30))
    with RtpScheduler() as sched:
        sids = [sched.add_stream(("127.0.0.1", 0), sink.getsockname(),
                                 Playlist(welcome, b"\x55" * 1600), ssrc=100 + i,
                                 first_seq=65530, first_ts=2**32 - 480) for i in range(3)]
        got = receive(sink, 3 * 40)
        for sid in sids:
            sched.remove_stream(sid)
        stats = sched.stats()
    # no wall-clock assertions: order, numbering and content only
    report = check_rtp(got, spacing_tolerance_ms=1e9, jitter_tolerance_ms=1e9,
                       require_marker=True)
    assert report.ok, report.problems
    assert sorted(s.ssrc for s in report.streams) == [100, 101, 102]
    for s in report.streams:
        assert s.seq_gaps == 0 and s.ts_errors == 0 and s.payload_types == [0]
    by_ssrc = {}
    for _, data in got:
        pkt = RtpPacket.parse(data)
        by_ssrc.setdefault(pkt.ssrc, []).append(pkt)
    for pkts in by_ssrc.values():
        assert pkts[0].sequence == 65530 and pkts[0].timestamp == 2**32 - 480
        assert pkts[0].marker and not any(p.marker for p in pkts[1:])
        # the welcome plays frame by frame, in order, then the music
        expect = [i for i in range(30)] + [0x55] * 40
        assert [p.payload[0] for p in pkts] == expect[:len(pkts)]
        assert all(len(p.payload) == 160 for p in pkts)
    assert stats.packets_sent >= 120 and stats.send_errors == 0


def test_scheduler_remove_finish_and_threads(sink):
    with RtpScheduler(phases=4) as sched:
        short = sched.add_stream(None, sink.getsockname(), Playlist(frames(3, 1)), ssrc=1)
        ids = []
        threads = [threading.Thread(target=lambda: ids.append(sched.add_stream(
            ("127.0.0.1", 0), sink.getsockname(), Playlist(music=frames(1, 2)))))
            for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(ids)) == 4 and short not in ids
        receive(sink, 30)
        assert short in sched.finished                       # its playlist ran out
        assert sched.stream_info(short) is None
        info = sched.stream_info(ids[0])
        assert info["playing"] == "music" and info["sent"] > 0
        for sid in ids:
            sched.remove_stream(sid)
        sched.remove_stream(12345)                           # unknown: ignored
        procs.wait_until(lambda: sched.stats().streams == 0, 5, 0.01, what="streams removed")
        assert sched.stats().streams == 0


def test_scheduler_uses_caller_socket_and_leaves_it_open(sink):
    own = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    own.bind(("127.0.0.1", 0))
    try:
        with RtpScheduler(realtime=True) as sched:   # falls back quietly without privilege
            sched.add_stream(own, sink.getsockname(), Playlist(music=frames(1, 9)), ssrc=5)
            data, addr = sink.recvfrom(2048)
            assert addr == own.getsockname()
            assert RtpPacket.parse(data).ssrc == 5
        assert own.fileno() != -1                            # still ours, still open
    finally:
        own.close()


class BrokenPlaylist(Playlist):
    def next_frame(self):
        raise ZeroDivisionError("boom")


def test_a_broken_playlist_stops_only_its_stream(sink):
    with RtpScheduler() as sched:
        bad = sched.add_stream(None, sink.getsockname(), BrokenPlaylist())
        good = sched.add_stream(None, sink.getsockname(), Playlist(music=frames(1, 3)), ssrc=9)
        pkts = receive(sink, 5)
        assert {RtpPacket.parse(d).ssrc for _, d in pkts} == {9}
        assert "ZeroDivisionError: boom" in sched.failed[bad]
        assert sched.stream_info(good) is not None
    final = sched.stats()                  # still answers after stop()
    assert final.packets_sent >= 5 and final.streams == 1
    with pytest.raises(RuntimeError, match="runs once"):
        sched.start()


def test_scheduler_needs_start(sink):
    with pytest.raises(RuntimeError, match="start"):
        RtpScheduler().add_stream(None, sink.getsockname(), Playlist(music=b"\xff"))


def test_a_stream_added_and_removed_in_one_turn_leaves_the_pacer_parked(sink):
    """A caller who hangs up at once: add and remove land in the same loop turn. The pacer
    used to wake with no stream and spin in its slot search for good (no RTP ever again, a
    core burnt); now it goes back to waiting, answers calls on its loop, and plays the next
    stream normally."""
    with RtpScheduler() as sched:
        def add_and_remove():               # in the RTP thread: attach and detach are queued
            sid = sched.add_stream(None, sink.getsockname(), Playlist(music=b"\xff" * 160))
            sched.remove_stream(sid)        # ... and run in the same next turn of its loop
        sched._loop.call_soon_threadsafe(add_and_remove)
        for _ in range(5):                  # a spinning pacer never runs these: stats() times out
            assert sched.stats().streams == 0
        sched.add_stream(None, sink.getsockname(), Playlist(music=frames(1, 7)), ssrc=77)
        assert {RtpPacket.parse(d).ssrc for _, d in receive(sink, 3)} == {77}


def test_renumber_continues_the_stream_the_listener_heard():
    from labkit.rtp.relay import Renumber
    n = Renumber(ssrc=0xABCD, seq=65534, ts=2**32 - 160, due=10.0)
    src = [RtpPacket(sequence=s, timestamp=1000 + 160 * (s - 100), ssrc=7, payload=bytes([i]) * 160,
                     csrcs=(1, 2), extension=(5, b"1234"), padding=4).build()
           for i, s in enumerate((100, 101, 103))]          # 102 lost on the way in
    out = [RtpPacket.parse(n.packet(d, 10.0 + 0.02 * i)) for i, d in enumerate(src)]
    assert [p.ssrc for p in out] == [0xABCD] * 3
    assert [p.sequence for p in out] == [65534, 65535, 1]    # continues, wraps, keeps the gap
    assert [p.timestamp for p in out] == [2**32 - 160, 0, 320]
    assert [p.marker for p in out] == [True, False, False]
    assert [p.payload for p in out] == [bytes([i]) * 160 for i in range(3)]
    assert all(p.csrcs == () and p.extension is None and p.padding == 0 for p in out)
    # the far end restarts (new SSRC) one second later: numbering carries on, the timestamp
    # moved on by the second that passed, and the new talkspurt is marked
    again = n.packet(RtpPacket(sequence=9, timestamp=5, ssrc=8, payload=b"\xff" * 160).build(), 11.06)
    p = RtpPacket.parse(again)
    assert p.sequence == 2 and p.marker and p.timestamp == (480 + 8000) % 2**32


@pytest.mark.parametrize("data", [b"", b"\x80" * 11, RtpPacket(payload_type=8, payload=b"x").build(),
                                  bytes([0x40]) + bytes(20), bytes([0x90, 0]) + bytes(12),
                                  bytes([0xA0, 0]) + bytes(10) + b"\xff"])
def test_renumber_drops_what_is_not_pcmu_rtp(data):
    from labkit.rtp.relay import Renumber
    n = Renumber(1, 1, 1, 0.0)
    assert n.packet(data, 0.0) is None and n.dropped == 1 and n.relayed == 0


def test_relay_takes_over_the_music_and_forwards_both_ways(sink):
    """caller <-> ACD <-> agent: the caller hears music from the ACD's port, then the agent's
    voice through the relay in the same stream (SSRC, sequence and timestamps continue); the
    agent hears the caller's packets under a numbering of the ACD's."""
    def udp():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        return s
    caller, agent = sink, udp()
    acd_caller, acd_agent = udp(), udp()
    acd_caller.setblocking(False), acd_agent.setblocking(False)
    try:
        with RtpScheduler() as sched:
            music = sched.add_stream(acd_caller, caller.getsockname(), Playlist(music=frames(1, 3)),
                                     ssrc=0x5151)
            heard = [RtpPacket.parse(d) for _, d in receive(caller, 3)]
            sched.add_relay(acd_agent, acd_caller, caller.getsockname())
            sched.add_relay(acd_caller, acd_agent, agent.getsockname())
            procs.wait_until(lambda: sched.stats().relays == 2 and sched.stats().streams == 0,
                             5, 0.01, what="relays attached, music stopped")
            while True:                       # music sent before the takeover, if any
                try:
                    caller.settimeout(0.2)
                    heard.append(RtpPacket.parse(caller.recv(2048)))
                except socket.timeout:
                    break
            caller.settimeout(5)
            for i in range(4):                # the agent talks ...
                agent.sendto(RtpPacket(sequence=500 + i, timestamp=9000 + 160 * i, ssrc=42,
                                       payload=b"\x11" * 160).build(), acd_agent.getsockname())
                caller.sendto(RtpPacket(sequence=70 + i, timestamp=160 * i, ssrc=43,
                                        payload=b"\x22" * 160).build(), acd_caller.getsockname())
            voice = [RtpPacket.parse(caller.recv(2048)) for _ in range(4)]
            to_agent = [RtpPacket.parse(agent.recv(2048)) for _ in range(4)]
            assert sched.stats().relayed == 8
            sched.release(acd_agent)
            procs.wait_until(lambda: sched.stats().relays == 0, 5, 0.01, what="relays released")
        assert acd_agent.fileno() == -1
    finally:
        for s in (agent, acd_caller, acd_agent):
            s.close()
    stream = heard + voice
    assert {p.ssrc for p in stream} == {0x5151}
    assert [(b.sequence - a.sequence) % 65536 for a, b in zip(stream, stream[1:])] == [1] * (len(stream) - 1)
    assert voice[0].marker and voice[0].timestamp - heard[-1].timestamp >= 160
    assert [p.payload[0] for p in voice] == [0x11] * 4
    assert len({p.ssrc for p in to_agent}) == 1 and to_agent[0].ssrc not in (43, 0x5151)
    assert [p.payload[0] for p in to_agent] == [0x22] * 4
    assert [(b.sequence - a.sequence) % 65536 for a, b in zip(to_agent, to_agent[1:])] == [1, 1, 1]


def test_measure_streams_small_run():
    m = measure_streams(5, seconds=0.5, warmup=0.2)
    assert m["streams"] == 5 and m["packets_sent"] > 0 and m["send_errors"] == 0
    for key in ("lateness_p50_ms", "lateness_p99_ms", "cpu_percent", "packets_expected"):
        assert key in m


def test_prompt_dir_is_in_repo():
    assert PROMPT_DIR.name == "acd" and PROMPT_DIR.parent.name == "data"
