"""What `intermamba data stats` and `intermamba data preview` show: counts, kinds and lengths of a dataset's
splits, and a few items' joints to draw. Works on any reader (`read_items`), with a shortcut for the
procedural world, whose items can be made one at a time without building a whole split.
"""

from __future__ import annotations

import importlib
from collections import Counter
from typing import Optional

import numpy as np

from ..skeleton import FPS


def _reader(data_cfg):
    return importlib.import_module(f"{__package__}.{data_cfg.dataset}")


def dataset_stats(data_cfg, splits=("train", "val", "test")) -> dict:
    """Per split: item count, captions, frame lengths and (when readers label them) interaction kinds."""
    out = {"dataset": data_cfg.dataset, "root": data_cfg.root, "splits": {}}
    for split in splits:
        items = _reader(data_cfg).read_items(data_cfg, split)
        lengths = np.array([it.frames for it in items], dtype=np.int64)
        out["splits"][split] = {
            "items": len(items),
            "captions": int(sum(len(it.texts) for it in items)),
            "frames": int(lengths.sum()),
            "length_min": int(lengths.min()) if len(items) else 0,
            "length_mean": float(lengths.mean()) if len(items) else 0.0,
            "length_max": int(lengths.max()) if len(items) else 0,
            "kinds": dict(sorted(Counter(it.kind for it in items if it.kind).items())),
        }
    return out


def format_stats(stats: dict) -> str:
    """A plain-text report of `dataset_stats`."""
    where = f" ({stats['root']})" if stats.get("root") else ""
    lines = [f"dataset: {stats['dataset']}{where}", ""]
    lines.append(f"{'split':<6} {'items':>7} {'captions':>9} {'hours':>6} {'min s':>6} {'mean s':>7} {'max s':>6}")
    kinds = Counter()
    for split, s in stats["splits"].items():
        lines.append(f"{split:<6} {s['items']:>7} {s['captions']:>9} {s['frames'] / FPS / 3600:>6.2f} "
                     f"{s['length_min'] / FPS:>6.1f} {s['length_mean'] / FPS:>7.1f} {s['length_max'] / FPS:>6.1f}")
        kinds.update(s["kinds"])
    if kinds:
        lines += ["", f"kinds ({len(kinds)}): " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))]
    return "\n".join(lines)


def preview_items(data_cfg, split: str, *, num: int, kind: Optional[str] = None) -> list:
    """(name, caption, joints (2, T, 22, 3)) for `num` items: for the procedural world the first `num`
    items of its seed (one of each kind in turn, or only `kind`); otherwise `num` items spread over the split."""
    if data_cfg.dataset == "synthetic":
        from .synthetic import generate

        samples = [generate(i, data_cfg.seed, kind=kind) for i in range(num)]
        return [(f"{s.name}_{s.kind}", s.texts[0], s.positions) for s in samples]
    if kind is not None:
        raise ValueError("--kind only applies to the synthetic dataset")
    items = _reader(data_cfg).read_items(data_cfg, split)
    if not items:
        raise ValueError(f"{data_cfg.dataset}:{split} has no items to preview")
    picks = np.unique(np.linspace(0, len(items) - 1, min(num, len(items))).round().astype(int))
    out = []
    for i in picks:
        positions, _ = items[i].arrays()
        out.append((items[i].name, items[i].texts[0], np.asarray(positions)))
    return out
