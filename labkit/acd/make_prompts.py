"""Make the ACD's prompts in data/acd/: welcome.ulaw, music.ulaw, announcement.ulaw.

This is a one-off: the lab plays the committed files, and this script documents how they were
made so that anyone can remake or change them. All three are raw G.711 µ-law, 8000 Hz, mono,
no header, cut to whole 20 ms frames (multiples of 160 bytes). Play one with
``sox -t raw -r 8000 -e u-law -c 1 data/acd/music.ulaw -d``.

* ``music``: eight seconds of a I–V–vi–IV progression in C (one chord per 2 s bar, 120 bpm)
  with a quarter-note melody on top; additive synthesis with a few harmonics and soft
  envelopes, so it loops without a click.
* ``welcome``: a rising three-note chime, then (if espeak-ng and sox are installed) the
  words "Welcome to the labkit call centre. Please hold, an agent will be with you shortly."
* ``announcement``: a two-note chime, then "Thank you for holding. Your call is important
  to us."

The tone parts are pure arithmetic and bit-for-bit deterministic. The speech comes from
``espeak-ng`` (voice en, speed 165) resampled by ``sox``; its exact bytes depend on the
espeak-ng version (1.51 on Debian 12 made the committed files). ``--no-speech`` makes
tone-only prompts that any machine reproduces exactly.

Usage: ``python -m labkit.acd.make_prompts [--out DIR] [--no-speech]``
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from labkit.rtp import FRAME_SAMPLES, PROMPT_DIR, SAMPLE_RATE, pcm16_to_ulaw

WELCOME_TEXT = "Welcome to the labkit call centre. Please hold, an agent will be with you shortly."
ANNOUNCE_TEXT = "Thank you for holding. Your call is important to us."


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(round(seconds * SAMPLE_RATE))) / SAMPLE_RATE


def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def tone(midi: float, seconds: float, harmonics=(1.0, 0.4, 0.15), attack=0.02,
         release=0.08, decay: float | None = None) -> np.ndarray:
    """A note with a few harmonics and a click-free envelope (decay = bell-like fade)."""
    t = _t(seconds)
    f = _hz(midi)
    wave = sum(a * np.sin(2 * np.pi * f * (k + 1) * t) for k, a in enumerate(harmonics))
    env = np.ones_like(t)
    na, nr = int(attack * SAMPLE_RATE), int(release * SAMPLE_RATE)
    if na:
        env[:na] = np.linspace(0, 1, na)
    if nr:
        env[-nr:] *= np.linspace(1, 0, nr)
    if decay:
        env *= np.exp(-t / decay)
    return wave * env / sum(harmonics)


def chime(notes: list[int], step: float = 0.28, ring: float = 0.9) -> np.ndarray:
    out = np.zeros(int((step * (len(notes) - 1) + ring) * SAMPLE_RATE))
    for i, n in enumerate(notes):
        note = tone(n, ring, harmonics=(1.0, 0.3, 0.1, 0.05), attack=0.005, decay=0.3)
        start = int(i * step * SAMPLE_RATE)
        out[start:start + len(note)] += note
    return 0.5 * out


def music(seconds_per_chord: float = 2.0) -> np.ndarray:
    """I–V–vi–IV in C with a quarter-note melody; exactly 4 chords, so it loops cleanly."""
    chords = [[48, 55, 60, 64], [43, 55, 59, 62], [45, 57, 60, 64], [41, 57, 60, 65]]
    melody = [[72, 74, 76, 79], [79, 77, 74, 71], [72, 76, 81, 79], [77, 76, 74, 72]]
    parts = []
    beat = seconds_per_chord / 4
    for chord, tune in zip(chords, melody):
        pad = sum(tone(n, seconds_per_chord, harmonics=(1.0, 0.25), attack=0.15,
                       release=0.15) for n in chord) / len(chord)
        lead = np.concatenate([tone(n, beat, harmonics=(1.0, 0.5, 0.25, 0.12),
                                    attack=0.01, release=0.1, decay=0.35) for n in tune])
        parts.append(0.45 * pad + 0.35 * lead[:len(pad)])
    return np.concatenate(parts)


def speech(text: str) -> np.ndarray | None:
    """espeak-ng → sox → 8 kHz float samples, or None when either tool is missing."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        wav, raw = Path(tmp) / "s.wav", Path(tmp) / "s.raw"
        subprocess.run(["espeak-ng", "-v", "en", "-s", "165", "-w", str(wav), text],
                       check=True)
        subprocess.run(["sox", str(wav), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
                        "-e", "signed-integer", "-t", "raw", str(raw), "norm", "-3"],
                       check=True)
        return np.frombuffer(raw.read_bytes(), dtype="<i2").astype(float) / 32768


def to_ulaw(signal: np.ndarray, level: float = 0.7) -> bytes:
    """Normalise to ``level`` of full scale, pad to whole 20 ms frames, encode."""
    peak = float(np.max(np.abs(signal))) or 1.0
    pcm = np.round(signal / peak * level * 32767).astype("<i2")
    pad = (-len(pcm)) % FRAME_SAMPLES
    pcm = np.concatenate([pcm, np.zeros(pad, dtype="<i2")])
    return pcm16_to_ulaw(pcm.tobytes())


def _with_words(intro: np.ndarray, text: str, use_speech: bool) -> np.ndarray:
    words = speech(text) if use_speech else None
    if words is None:
        return intro
    gap = np.zeros(int(0.15 * SAMPLE_RATE))
    return np.concatenate([intro * 0.6, gap, words, gap])


def make_all(out: Path = PROMPT_DIR, use_speech: bool = True) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    prompts = {
        "welcome": _with_words(chime([72, 76, 79]), WELCOME_TEXT, use_speech),
        "music": music(),
        "announcement": _with_words(chime([79, 72], step=0.35), ANNOUNCE_TEXT, use_speech),
    }
    sizes = {}
    for name, signal in prompts.items():
        data = to_ulaw(signal)
        (out / f"{name}.ulaw").write_bytes(data)
        sizes[name] = len(data)
    return sizes


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=PROMPT_DIR)
    ap.add_argument("--no-speech", action="store_true", help="tones only (fully reproducible)")
    args = ap.parse_args(argv)
    for name, size in make_all(args.out, not args.no_speech).items():
        print(f"{args.out / (name + '.ulaw')}: {size} bytes, {size / SAMPLE_RATE:.2f} s")


if __name__ == "__main__":
    main()
