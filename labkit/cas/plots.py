"""Contention plots for the notebook: throughput and handoff latency against contenders."""
from __future__ import annotations


def plot_contention(cv: dict, pingpong_ns: float | None = None, cores: int | None = None):
    """Two panels from contend.curves(): acquisitions/s and contended-handoff p50 per kind.

    A dashed line marks the core count (contenders past it must be preempted to run) and the
    ping-pong round trip (no handoff between two cores can beat one cache-line transfer).
    """
    import matplotlib.pyplot as plt

    thr, hof = cv["throughput"], cv["handoff"]
    kinds = sorted({k for k, _ in thr}, key=list(dict.fromkeys(k for k, _ in thr)).index)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for k in kinds:
        ns = sorted(n for kk, n in thr if kk == k)
        a.plot(ns, [thr[(k, n)].throughput / 1e6 for n in ns], marker="o", label=k)
        hn = [n for n in ns if n > 1 and hof[(k, n)].samples]
        b.plot(hn, [hof[(k, n)].handoff_p50_ns for n in hn], marker="o", label=k)
    a.set(xlabel="contending threads", ylabel="million acquisitions / s", title="throughput")
    b.set(xlabel="contending threads", ylabel="ns (p50)", yscale="log",
          title="contended handoff: release -> waiting core owns the lock")
    if pingpong_ns:
        b.axhline(pingpong_ns, color="k", ls=":", label=f"ping-pong round trip {pingpong_ns:.0f} ns")
    for ax in (a, b):
        if cores:
            ax.axvline(cores, color="grey", ls="--", lw=0.8)
        ax.grid(alpha=0.3)
    b.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
