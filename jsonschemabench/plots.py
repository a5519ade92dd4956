"""PNG plots of a run (matplotlib, an optional extra: `pip install '.[peers]'`).

Owns the figures: the TBM distribution per engine (cumulative fraction of masks against
time per mask, log scale) and coverage per subset or category per engine (fraction of
schemas passing, grouped bars). `plot` returns the files written, or raises `PlotsSkipped`
when matplotlib is absent so that the report can say so.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .report import by_key, counts
from .testsuite import PASS, CaseResult


class PlotsSkipped(RuntimeError):
    """Plots cannot be drawn here (matplotlib is not installed)."""


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise PlotsSkipped("matplotlib is not installed (pip install '.[peers]'): plots skipped") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(results: Sequence[CaseResult], folder: Path, prefix: str, row_name: str = "subset") -> list[Path]:
    """Write `<prefix>-tbm.png` (when masks were timed) and `<prefix>-coverage.png` into
    `folder`; the files written."""
    plt = _pyplot()
    import numpy as np

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    engines = by_key(results, "engine")
    written = []
    timed = {e: np.sort([s * 1e6 for r in rs for s in r.mask_seconds]) for e, rs in engines.items()}
    timed = {e: t for e, t in timed.items() if len(t)}
    if timed:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for engine, times in timed.items():
            ax.plot(times, np.arange(1, len(times) + 1) / len(times), label=f"{engine} ({len(times)} masks)")
        ax.set_xscale("log")
        ax.set_xlabel("time per mask (µs, log scale)")
        ax.set_ylabel("fraction of masks")
        ax.set_title("Time per mask (TBM), cumulative")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        path = folder / f"{prefix}-tbm.png"
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    names: list[str] = []
    for rs in engines.values():
        names += [n for n in by_key(rs, "category") if n not in names]
    fig, ax = plt.subplots(figsize=(max(7, 0.35 * len(names) * len(engines)), 4.5))
    width = 0.8 / len(engines)
    for k, (engine, rs) in enumerate(engines.items()):
        groups = by_key(rs, "category")
        fractions = [counts(groups[n])[PASS] / len(groups[n]) if n in groups else 0.0 for n in names]
        ax.bar(np.arange(len(names)) + k * width, fractions, width, label=engine)
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2)
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(f"fraction of {'schemas' if row_name == 'subset' else 'cases'} passing")
    ax.set_ylim(0, 1)
    ax.set_title(f"Coverage per {row_name}")
    ax.legend()
    path = folder / f"{prefix}-coverage.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return written + [path]
