"""Plots for notebook 03 (matplotlib); the data comes from labkit.mail.experiment."""
from __future__ import annotations


def plot_bursts(rows: list[dict], ax_live=None, ax_cpu=None):
    """Two panels: time until the burst's last mailbox is live, and CPU spent, against
    burst size (log-log), one line per backend. Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    if ax_live is None or ax_cpu is None:
        fig, (ax_live, ax_cpu) = plt.subplots(1, 2, figsize=(10, 4))
    else:
        fig = ax_live.figure
    for backend in sorted({r["backend"] for r in rows}):
        pts = sorted((r["burst"], r["live_ms"], r["cpu_ms"]) for r in rows
                     if r["backend"] == backend)
        xs = [p[0] for p in pts]
        ax_live.plot(xs, [max(p[1], 0.01) for p in pts], marker="o", label=backend)
        ax_cpu.plot(xs, [max(p[2], 0.01) for p in pts], marker="o", label=backend)
    for ax, title, unit in ((ax_live, "time until the new mailbox accepts mail", "ms"),
                            (ax_cpu, "CPU spent by the automation", "CPU ms")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("mailboxes added in one burst")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def burst_table(rows: list[dict]) -> str:
    """The same data as a text table (values vary run to run: mark the cell nbval-ignore)."""
    out = [f"{'backend':<8} {'burst':>5} {'write ms':>9} {'live ms':>9} {'lag ms':>8} {'cpu ms':>8} {'postmaps':>8}"]
    for r in rows:
        out.append(f"{r['backend']:<8} {r['burst']:>5} {r['write_ms']:>9.1f} {r['live_ms']:>9.1f} {r['lag_ms']:>8.1f} "
                   f"{r['cpu_ms']:>8.1f} {r['postmap_runs']:>8}")
    return "\n".join(out)
