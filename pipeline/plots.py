"""Figures of behaviour measures: group strip/bar plots, ethograms, latencies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

UNITS = {"bout_count": "bouts (count)", "total_duration_s": "time in contact (s)",
         "latency_s": "latency to first bout (s)"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def group_plot(df: pd.DataFrame, path, *, group_by: list[str], value: str, title: str = "") -> Path:
    """:func:`group_figure`, written to ``path`` (PNG)."""
    return _save(group_figure(df, group_by=group_by, value=value, title=title), path)


def group_figure(df: pd.DataFrame, *, group_by: list[str], value: str, title: str = ""):
    """One panel per behaviour: bar = group mean ± SEM, one dot per animal (NaN = no data: no dot).

    Returns the matplotlib Figure (close it, or pass it to ``group_plot``'s path form).
    """
    plt = _plt()
    behaviors = sorted(df["behavior"].unique())
    labels = df[group_by].astype(str).agg(" ".join, axis=1)
    groups = sorted(labels.unique())
    fig, axes = plt.subplots(1, len(behaviors), figsize=(3.2 * len(behaviors), 3.8), squeeze=False, sharey=True)
    rng = np.random.default_rng(0)
    colors = plt.get_cmap("tab10").colors
    for ax, beh in zip(axes[0], behaviors):
        d = df[df["behavior"] == beh]
        lab = labels[d.index]
        for i, g in enumerate(groups):
            v = d.loc[lab == g, value].dropna().to_numpy(float)
            if len(v):
                sem = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0
                ax.bar(i, v.mean(), yerr=sem, color=colors[i % 10], alpha=0.35, capsize=3, width=0.7)
                ax.scatter(i + rng.uniform(-0.18, 0.18, len(v)), v, s=14, color=colors[i % 10], zorder=3)
        ax.set_xticks(range(len(groups)), groups, rotation=35, ha="right", fontsize=8)
        ax.set_title(beh.replace("nose2", "nose → "), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(UNITS.get(value, value))
    fig.suptitle(title or f"{UNITS.get(value, value)} by {' × '.join(group_by)} (bar: mean ± SEM, dot: animal)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def ethogram(bouts: pd.DataFrame, path, *, duration_s: float, title: str = "") -> Path:
    """:func:`ethogram_figure`, written to ``path`` (PNG)."""
    return _save(ethogram_figure(bouts, duration_s=duration_s, title=title), path)


def ethogram_figure(bouts: pd.DataFrame, *, duration_s: float, title: str = ""):
    """One row per behaviour and agent → target; bars where bouts are. Returns the Figure."""
    plt = _plt()
    bouts = bouts.assign(row=bouts["behavior"] + "  " + bouts["agent"] + " → " + bouts["target"])
    rows = sorted(bouts["row"].unique())
    fig, ax = plt.subplots(figsize=(10, 0.35 * max(len(rows), 4) + 1.2))
    colors = plt.get_cmap("tab10").colors
    behaviors = sorted(bouts["behavior"].unique())
    for i, r in enumerate(rows):
        d = bouts[bouts["row"] == r]
        color = colors[behaviors.index(d["behavior"].iloc[0]) % 10]
        ax.broken_barh(list(zip(d["start_s"], d["duration_s"])), (i - 0.4, 0.8), color=color)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xlim(0, duration_s)
    ax.set_xlabel("time (s)")
    ax.set_title(title or "ethogram", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path
