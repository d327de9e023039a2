"""Redraw the paper's Fig. 8 (the adaptive fusion weights against training steps) from a run's logs.

    intermamba plot-fusion runs/demo            # writes runs/demo/fusion.png
    plot_fusion("runs/demo", "fig8.png")

Training logs `fusion/layer<i>.<name>` every step (name: w_alpha, w_beta of Eq. 9 in the Self-ASTM, alpha_c,
beta_c of Eq. 13 in the Cross-ASTM); this reads them back from Lightning's CSV log (metrics.csv) or, when the
tensorboard package is installed, from TensorBoard event files.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path
from typing import Optional, Union

from .fileio import atomic_path

PREFIX = "fusion/"
SELF_NAMES = ("w_alpha", "w_beta")      # Eq. (9): z = w_alpha h_t + w_beta h_s
CROSS_NAMES = ("alpha_c", "beta_c")     # Eq. (13)
LABELS = {"w_alpha": r"$w_\alpha$", "w_beta": r"$w_\beta$", "alpha_c": r"$\alpha_c$", "beta_c": r"$\beta_c$"}

Series = dict[str, tuple[list[int], list[float]]]


def _read_csv(path: Path) -> Series:
    out: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            step = row.get("step")
            if not step:
                continue
            for key, value in row.items():
                if key and key.startswith(PREFIX) and value not in (None, ""):
                    steps, values = out[key[len(PREFIX):]]
                    steps.append(int(float(step)))
                    values.append(float(value))
    return dict(out)


def _read_tensorboard(folder: Path) -> Series:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError as err:
        raise ValueError(f"{folder} holds TensorBoard logs; reading them needs the tensorboard package") from err
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag[len(PREFIX):]: ([e.step for e in acc.Scalars(tag)], [e.value for e in acc.Scalars(tag)])
            for tag in acc.Tags().get("scalars", []) if tag.startswith(PREFIX)}


def read_fusion_log(logdir: Union[str, Path]) -> Series:
    """{"layer0.w_alpha": (steps, values), ...} from every CSV (else TensorBoard) log under `logdir`."""
    logdir = Path(logdir)
    if not logdir.exists():
        raise ValueError(f"log folder {str(logdir)!r} not found; pass a run folder or its logs/ folder")
    series: Series = {}
    parts = [_read_csv(p) for p in sorted(logdir.rglob("metrics.csv"), key=_version_key)]
    if not parts:
        event_dirs = sorted({p.parent for p in logdir.rglob("events.out.tfevents.*")}, key=_version_key)
        parts = [_read_tensorboard(folder) for folder in event_dirs]
    for part in parts:  # a resumed run logs into a new version folder: concatenate them in order
        for key, (steps, values) in part.items():
            series.setdefault(key, ([], []))
            series[key][0].extend(steps)
            series[key][1].extend(values)
    if not series:
        raise ValueError(f"no fusion weights ({PREFIX}...) logged under {logdir}; train with a model that has "
                         "adaptive fusion (model.adaptive_fusion=true)")
    for steps, values in series.values():  # a resumed run may log a step twice: keep the last value
        dedup = dict(zip(steps, values))
        steps[:], values[:] = sorted(dedup), [dedup[s] for s in sorted(dedup)]
    return series


def plot_fusion(logdir: Union[str, Path], out: Optional[Union[str, Path]] = None) -> Path:
    """Draw the fusion weights against steps (one panel per block type, one line per layer); returns the PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = read_fusion_log(logdir)
    out = Path(out) if out is not None else Path(logdir) / "fusion.png"
    groups = [("Self-ASTM (Eq. 9)", SELF_NAMES), ("Cross-ASTM (Eq. 13)", CROSS_NAMES)]
    groups = [(title, names) for title, names in groups if any(_name(k) in names for k in series)]
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
    styles = {names[0]: "-" for _, names in groups} | {names[1]: "--" for _, names in groups}
    for ax, (title, names) in zip(axes[0], groups):
        for key in sorted(series):
            name = _name(key)
            if name not in names:
                continue
            steps, values = series[key]
            layer = key.split(".", 1)[0]
            ax.plot(steps, values, styles[name], label=f"{LABELS.get(name, name)} ({layer})")
        ax.set_title(title)
        ax.set_xlabel("training step")
        ax.set_ylabel("weight")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Adaptive fusion weights during training (paper Fig. 8)")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return out


def _version_key(path: Path) -> tuple:
    """Sort version_2 before version_10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(path)))


def _name(key: str) -> str:
    return re.sub(r"^layer\d+\.", "", key)
