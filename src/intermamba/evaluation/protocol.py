"""The replicated evaluation protocol of InterGen's `tools/eval.py` (reference/intergen-facts.md sec. 4).

Per replication:
1. "Real": one pass over the test split in shuffled batches of 96 (drop_last) -> R-Precision and MM Dist from
   each batch's text x motion distance matrix; its motion embeddings are the Real row's activations.
2. Each model: every test item is visited once in shuffled order and generated with its caption at its
   ground-truth length (the dataset's random crop decides it); `mm_num_samples` random items are generated
   `mm_num_repeats` times (the first repeat doubles as the item's ordinary sample). The generated set is then
   batched like the real one (shuffled, 96, drop_last) for R-Precision, MM Dist and activations. Unlike
   InterGen, which re-crops per model, all models of a replication get the same captions, lengths and noise
   seeds: a model's numbers do not depend on what else is evaluated alongside it.
3. FID of every row against a fresh pass over the test split (new crops, swaps and captions); Diversity from
   `diversity_times` random pairs of each row's activations; MModality from the repeated items.
4. Interaction quality (`physical`: interpenetration, merged people, hand contact, foot skating and floor
   penetration, jitter, bone drift) on the joints of every generated item (an MModality item's first repeat)
   and, for the Real row, on the ground-truth items that the models are asked for (same captions and crops).
Final numbers: mean over replications and 95% confidence interval 1.96 std / sqrt(replications).

Generation is decoupled: a model enters as a callable `generate(texts, lengths, seed) -> (B, T, 2, 262)`
unnormalised features with T >= max(lengths) (frames beyond an item's length are ignored). Everything is
seeded from `settings.seed`: the dataset's augmentations draw from the global `random` / numpy / torch
generators, which are reseeded at the start of each replication, and every generate() call gets its own seed.

Embeddings are computed per item and then grouped into the protocol's batches: the evaluator's padding masks
make an item's embedding independent of its batch-mates, so this equals embedding batch by batch.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from ..fileio import atomic_write_text
from ..motion import features_to_joints
from ..skeleton import FEATURE_DIM
from . import metrics, physical
from .evaluator import Evaluator

Generate = Callable[[list, np.ndarray, int], np.ndarray]

# Metric presets: InterGen's tools/eval.py + utils/metrics.py (InterHuman), Inter-X's final_evaluations.py.
PRESETS = {
    "interhuman": {"batch_size": 96, "emb_scale": metrics.INTERHUMAN_EMB_SCALE, "diversity_halve": True},
    "interx": {"batch_size": 32, "emb_scale": 1.0, "diversity_halve": False},
}
# `--quick`: a few-minute smoke version (CI, tests); the protocol is the same, only smaller.
QUICK = {"replications": 2, "batch_size": 16, "diversity_times": 16, "mm_num_samples": 4, "mm_num_repeats": 4,
         "mm_num_times": 2, "max_items": 32}
QUICK_SAMPLE_STEPS = 10         # DDIM steps `intermamba eval --quick` asks the generator for (unless --steps)

METRICS = ("r_precision_top1", "r_precision_top2", "r_precision_top3", "fid", "mm_dist", "diversity", "mmodality")
HEADERS = {"r_precision_top1": "R-Precision Top 1 ↑", "r_precision_top2": "Top 2 ↑", "r_precision_top3": "Top 3 ↑",
           "fid": "FID ↓", "mm_dist": "MM Dist ↓", "diversity": "Diversity →", "mmodality": "MModality ↑"}
# Interaction quality (physical.SUMMARY, stored in SI units): header, factor and decimals of the second table.
QUALITY = physical.SUMMARY
QUALITY_HEADERS = {
    "penetration_rate": ("Interpen. frames % ↓", 100, 1), "penetration_depth": ("Interpen. depth cm ↓", 100, 2),
    "merged": ("Merged % ↓", 100, 1), "min_pelvis_gap": ("Min pelvis gap m →", 1, 3),
    "contact_accuracy": ("Hand contact % ↑", 100, 1), "foot_skating": ("Skating m/s ↓", 1, 3),
    "floor_depth": ("Below floor cm ↓", 100, 2), "floor_rate": ("Below floor frames % ↓", 100, 1),
    "jitter": ("Jitter m/s² →", 1, 2), "bone_drift": ("Bone drift cm ↓", 100, 2),
}
REAL = "Real"
TOP_K = 3


@dataclass(frozen=True)
class ProtocolSettings:
    preset: str
    batch_size: int
    emb_scale: float
    diversity_divide_by: float
    replications: int
    diversity_times: int
    mm_num_samples: int
    mm_num_repeats: int
    mm_num_times: int
    max_items: Optional[int]
    gen_batch_size: int
    seed: int
    quick: bool = False


def resolve_settings(eval_cfg, *, quick: bool = False, **overrides) -> ProtocolSettings:
    """Concrete settings from an EvalConfig: its preset fills the null fields, `quick` shrinks the protocol,
    keyword `overrides` (e.g. replications=5) win over both."""
    values = {f.name: getattr(eval_cfg, f.name) for f in dataclasses.fields(eval_cfg)}
    if values["preset"] not in PRESETS:
        raise ValueError(f"unknown evaluation preset {values['preset']!r}; choose one of {sorted(PRESETS)}")
    for key, default in PRESETS[values["preset"]].items():
        if values[key] is None:
            values[key] = default
    if quick:
        for key, small in QUICK.items():
            values[key] = small if values[key] is None else min(values[key], small)
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = ProtocolSettings(
        preset=values["preset"], batch_size=int(values["batch_size"]), emb_scale=float(values["emb_scale"]),
        diversity_divide_by=2.0 if values["diversity_halve"] else 1.0, replications=int(values["replications"]),
        diversity_times=int(values["diversity_times"]), mm_num_samples=int(values["mm_num_samples"]),
        mm_num_repeats=int(values["mm_num_repeats"]), mm_num_times=int(values["mm_num_times"]),
        max_items=values["max_items"], gen_batch_size=int(values["gen_batch_size"]), seed=int(values["seed"]),
        quick=quick)
    for name in ("batch_size", "replications", "mm_num_repeats", "gen_batch_size"):
        if getattr(settings, name) < 1:
            raise ValueError(f"eval.{name} must be at least 1, got {getattr(settings, name)}")
    if settings.mm_num_times > settings.mm_num_repeats:
        raise ValueError(f"eval.mm_num_times ({settings.mm_num_times}) cannot exceed eval.mm_num_repeats "
                         f"({settings.mm_num_repeats}): pairs are drawn without replacement")
    return settings


# ------------------------------------------------------------------------------------------ results
@dataclass
class EvalResult:
    """Per-replication values `values[row][metric]` (rows: "Real" then each model), settings and provenance."""

    values: dict
    settings: ProtocolSettings
    info: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """row -> metric -> {"mean", "ci"} (the 95% half-width); metrics a row lacks are absent."""
        out = {}
        for row, per_metric in self.values.items():
            out[row] = {}
            for name, vals in per_metric.items():
                mean, ci = metrics.mean_and_interval(np.asarray(vals))
                out[row][name] = {"mean": float(mean), "ci": float(ci)}
        return out

    def to_dict(self) -> dict:
        return {"summary": self.summary(), "replications": self.values,
                "settings": dataclasses.asdict(self.settings), "info": self.info}

    def to_markdown(self) -> str:
        """The table in the layout of the paper's Table 1 (mean ± 95% CI; "-" where a row has no value)."""
        header = "| Methods | " + " | ".join(HEADERS[m] for m in METRICS) + " |"
        lines = [header, "|" + "---|" * (len(METRICS) + 1)]
        for row, per_metric in self.summary().items():
            cells = [f"{v['mean']:.3f} ± {v['ci']:.3f}" if (v := per_metric.get(m)) else "-" for m in METRICS]
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
        s = self.settings
        lines.append("")
        lines.append(f"{s.replications} replication{'s' if s.replications != 1 else ''}, batch {s.batch_size}, "
                     f"preset {s.preset} "
                     f"(embeddings x{s.emb_scale:g} for FID/Diversity, Diversity / {s.diversity_divide_by:g}), "
                     f"Diversity over {self.info.get('diversity_pairs', s.diversity_times)} pairs, "
                     f"MModality {s.mm_num_samples} x {s.mm_num_repeats} x {s.mm_num_times}"
                     + (", quick" if s.quick else "") + ".")
        described = {k: self.info[k] for k in ("dataset", "split", "items", "evaluator", "checkpoint", "steps",
                                                "sampler", "guidance", "placement_guidance", "reference_anchor")
                     if self.info.get(k) is not None}
        if described:
            lines.append(", ".join(f"{k}: {v}" for k, v in described.items()) + ".")
        return "\n".join(lines) + "\n" + self._quality_markdown()

    def _quality_markdown(self) -> str:
        """The interaction-quality table (mean ± 95% CI over replications), if any row has those numbers."""
        summary = self.summary()
        if not any(m in per for per in summary.values() for m in QUALITY):
            return ""
        lines = ["", "| Interaction quality | " + " | ".join(QUALITY_HEADERS[m][0] for m in QUALITY) + " |",
                 "|" + "---|" * (len(QUALITY) + 1)]
        for row, per_metric in summary.items():
            cells = []
            for m in QUALITY:
                _, factor, digits = QUALITY_HEADERS[m]
                v = per_metric.get(m)
                cells.append(f"{v['mean'] * factor:.{digits}f} ± {v['ci'] * factor:.{digits}f}" if v else "-")
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
        touching = self.info.get("touching_items")
        lines += ["", "Hand contact: share of the items whose kind or caption says that hands touch"
                  + (f" ({touching} of {self.info.get('items')})" if touching is not None else "")
                  + f" in which a wrist comes within {physical.CONTACT_DISTANCE:g} m of the partner's body. "
                  "Real: the ground-truth items the models were asked for. Definitions: README, Evaluation."]
        return "\n".join(lines) + "\n"

    def save(self, out_dir) -> tuple[Path, Path]:
        """Write `results.json` and `results.md` into out_dir, each atomically."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path, md_path = out_dir / "results.json", out_dir / "results.md"
        atomic_write_text(json_path, json.dumps(self.to_dict(), indent=2) + "\n")
        atomic_write_text(md_path, self.to_markdown())
        return json_path, md_path


# ------------------------------------------------------------------------------------------ helpers
def _derive_seed(*keys: int) -> int:
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class _Embedded:
    """One set (real or generated) embedded item by item: text (N, E), motion (N, E)."""
    text: np.ndarray
    motion: np.ndarray


@dataclass
class _Targets:
    """What a model is asked for in one replication: captions and lengths (N,), and the MModality rows; whether
    each item's hands should touch (N,), and the interaction quality of the real items (N dicts)."""
    texts: list
    lengths: np.ndarray
    mm_rows: np.ndarray
    touch: np.ndarray
    real_quality: list


def _batch_stats(emb: _Embedded, order: np.ndarray, batch_size: int) -> tuple[dict, np.ndarray]:
    """R-Precision and MM Dist over the batches `order` forms (drop_last), and those batches' activations."""
    num_batches = len(order) // batch_size
    hits, dist_sum = np.zeros(TOP_K), 0.0
    for b in range(num_batches):
        rows = order[b * batch_size:(b + 1) * batch_size]
        hits += metrics.r_precision(emb.text[rows], emb.motion[rows], TOP_K)
        dist_sum += metrics.matching_score(emb.text[rows], emb.motion[rows])
    n = num_batches * batch_size
    stats = {f"r_precision_top{k + 1}": float(hits[k] / n) for k in range(TOP_K)}
    stats["mm_dist"] = dist_sum / n
    return stats, emb.motion[order[:n]]


class _TextCache:
    """Caption -> evaluator text embedding (captions repeat across replications and items)."""

    def __init__(self, evaluator: Evaluator):
        self.evaluator, self.cache = evaluator, {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        todo = sorted({t for t in texts if t not in self.cache})
        if todo:
            self.cache.update(zip(todo, self.evaluator.embed_text(todo)))
        return np.stack([self.cache[t] for t in texts])


def _item_kinds(dataset: Dataset) -> dict:
    """Item name -> kind for datasets whose raw items carry one (the procedural world); {} otherwise."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return {it.name: it.kind for it in getattr(dataset, "items", ()) if getattr(it, "kind", None) is not None}


def _quality(features: np.ndarray, touch: bool) -> dict:
    """Interaction quality of one item's features (T, 2, 262), valid frames only."""
    return physical.per_sample(features_to_joints(features).transpose(1, 0, 2, 3), touch=touch)


def _check_generated(out, n: int, max_len: int) -> np.ndarray:
    out = np.asarray(out.detach().cpu() if isinstance(out, torch.Tensor) else out, dtype=np.float32)
    if out.ndim != 4 or out.shape[0] != n or out.shape[1] < max_len or out.shape[2:] != (2, FEATURE_DIM):
        raise ValueError(f"generate() must return ({n}, >= {max_len}, 2, {FEATURE_DIM}) unnormalised "
                         f"features, got {out.shape}")
    if not np.isfinite(out).all():
        raise ValueError("generate() returned NaN or inf values")
    return out


# ------------------------------------------------------------------------------------------ protocol
class Protocol:
    """Runs the protocol for a dataset split and an evaluator; `run(generators)` -> EvalResult."""

    def __init__(self, dataset: Dataset, evaluator: Evaluator, settings: ProtocolSettings, *,
                 collate_fn: Optional[Callable] = None, progress: bool = True):
        if settings.max_items is not None and settings.max_items < len(dataset):
            # A fixed subset (from the seed) so every replication sees the same items.
            keep = np.sort(np.random.default_rng(settings.seed).choice(len(dataset), settings.max_items, replace=False))
            dataset = Subset(dataset, keep.tolist())
        if len(dataset) < settings.batch_size:
            raise ValueError(f"the split has {len(dataset)} items, fewer than one evaluation batch of "
                             f"{settings.batch_size}; lower eval.batch_size or use a bigger split")
        self.dataset, self.evaluator, self.settings = dataset, evaluator, settings
        self.collate_fn, self.progress = collate_fn, progress
        self.text_embedding = _TextCache(evaluator)
        self.kinds = _item_kinds(dataset)
        self._bar = None

    # --------------------------------------------------------------------------------- real data
    def _embed_real(self, seed: int) -> _Embedded:
        """One shuffled pass (drop_last) over the split, embedded in loader order."""
        loader = DataLoader(self.dataset, batch_size=self.settings.batch_size, shuffle=True, drop_last=True,
                            collate_fn=self.collate_fn, generator=torch.Generator().manual_seed(seed))
        texts, motions = [], []
        for batch in loader:
            texts.append(self.text_embedding(batch["text"]))
            motions.append(self.evaluator.embed_motion(batch["motion"], batch["lengths"]))
            self._tick(len(batch["text"]))
        return _Embedded(np.concatenate(texts), np.concatenate(motions))

    # --------------------------------------------------------------------------------- a model
    def _targets(self, rng: np.random.Generator) -> _Targets:
        """Every item once, in shuffled order, as the loader would deliver it: its caption and length."""
        from ..data.dataset import MIRROR_SUFFIX

        collate = self.collate_fn or torch.utils.data.default_collate
        texts, lengths, touch, quality = [], [], [], []
        for i in rng.permutation(len(self.dataset)):
            item = collate([self.dataset[int(i)]])
            texts.append(item["text"][0])
            lengths.append(int(item["lengths"][0]))
            name = str(item["name"][0]) if "name" in item else ""
            touch.append(physical.touch_expected(texts[-1], self.kinds.get(name.removesuffix(MIRROR_SUFFIX))))
            quality.append(_quality(np.asarray(item["motion"][0, :lengths[-1]], np.float64), touch[-1]))
            self._tick(1)
        mm_rows = np.sort(rng.permutation(len(texts))[:self.settings.mm_num_samples])
        return _Targets(texts, np.array(lengths), mm_rows, np.array(touch), quality)

    def _generate_set(self, generate: Generate, targets: _Targets, rep: int) -> tuple[_Embedded, np.ndarray, list]:
        """A model's counterpart of the split: (_Embedded of N items, MModality embeddings (M, R, E), the
        interaction quality of its N samples).

        The calls and their seeds depend only on the replication, so every model meets the same texts,
        lengths and noise seeds, whatever else is evaluated in the same run."""
        s, texts, lengths = self.settings, targets.texts, targets.lengths
        motion_emb = np.zeros((len(texts), self.evaluator.config.embed_dim), np.float32)
        quality = [None] * len(texts)
        calls = iter(range(len(texts) + len(targets.mm_rows)))

        def run(rows: Sequence[int], repeats: int = 1) -> np.ndarray:
            batch_texts = [texts[i] for i in rows for _ in range(repeats)]
            batch_lengths = np.repeat(lengths[list(rows)], repeats)
            seed = _derive_seed(s.seed, rep, next(calls))
            out = _check_generated(generate(batch_texts, batch_lengths, seed), len(batch_texts), batch_lengths.max())
            for k, i in enumerate(rows):                              # the raw output, repeat 0 of each row
                quality[i] = _quality(out[k * repeats, :lengths[i]].astype(np.float64), targets.touch[i])
            self._tick(len(batch_texts))
            return self.evaluator.embed_motion(out[:, :batch_lengths.max()], batch_lengths)

        mm_rows = set(targets.mm_rows.tolist())
        # Items of similar length share a call (less padding to denoise); stable, so still deterministic.
        plain = sorted((i for i in range(len(texts)) if i not in mm_rows), key=lambda i: lengths[i])
        for start in range(0, len(plain), s.gen_batch_size):
            rows = plain[start:start + s.gen_batch_size]
            motion_emb[rows] = run(rows)
        mm = np.zeros((len(mm_rows), s.mm_num_repeats, motion_emb.shape[1]), np.float32)
        for k, i in enumerate(targets.mm_rows):
            mm[k] = run([i], repeats=s.mm_num_repeats)               # one text, mm_num_repeats generations
            motion_emb[i] = mm[k, 0]                                  # repeat 0 is also the item's sample
        return _Embedded(self.text_embedding(texts), motion_emb), mm, quality

    # --------------------------------------------------------------------------------- the run
    def _tick(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def _work(self, num_models: int) -> int:
        s, n = self.settings, len(self.dataset)
        per_model = n + min(s.mm_num_samples, n) * (s.mm_num_repeats - 1)
        real = 2 * (n // s.batch_size) * s.batch_size + n           # two real passes + the targets' fetch
        return s.replications * (real + num_models * per_model)

    def run(self, generators: Optional[Mapping[str, Generate]] = None) -> EvalResult:
        generators = dict(generators or {})
        if REAL in generators:
            raise ValueError(f"a model cannot be called {REAL!r}")
        s = self.settings
        values: dict = {REAL: {m: [] for m in METRICS + QUALITY if m != "mmodality"}}
        values.update({name: {m: [] for m in METRICS + QUALITY} for name in generators})
        if self.progress:
            from tqdm import tqdm
            self._bar = tqdm(total=self._work(len(generators)), desc="eval", unit="item", dynamic_ncols=True)
        started, diversity_pairs = time.time(), s.diversity_times
        try:
            for rep in range(s.replications):
                rep_seed = _derive_seed(s.seed, rep)
                _seed_everything(rep_seed)                           # dataset crops / swaps / captions
                if self._bar is not None:
                    self._bar.set_description(f"eval {rep + 1}/{s.replications}")
                # All dataset passes first, so the models' generation cannot shift the dataset's random draws.
                real = self._embed_real(_derive_seed(rep_seed, 1))
                targets = self._targets(np.random.default_rng(_derive_seed(rep_seed, 2)))
                touching = int(targets.touch.sum())                  # (captions, and so this, may vary by rep)
                fid_ref = self._embed_real(_derive_seed(rep_seed, 3)).motion   # fresh pass: FID's reference
                sets = {REAL: (real, None, targets.real_quality)}
                sets.update({name: self._generate_set(generate, targets, rep) for name, generate in generators.items()})
                for name, (emb, mm, quality) in sets.items():
                    # Each row draws its batches and pairs from the same stream, independent of the other rows.
                    rng = np.random.default_rng(_derive_seed(rep_seed, 4))
                    order = np.arange(len(emb.motion)) if name == REAL else rng.permutation(len(emb.motion))
                    stats, activations = _batch_stats(emb, order, s.batch_size)
                    stats["fid"] = metrics.fid(fid_ref, activations, emb_scale=s.emb_scale)
                    # InterGen asserts N > diversity_times; a smaller split uses every activation once instead.
                    pairs = min(s.diversity_times, len(activations))
                    diversity_pairs = min(diversity_pairs, pairs)
                    first, second = metrics.draw_pairs(rng, len(activations), pairs)
                    stats["diversity"] = metrics.diversity(activations, first, second, emb_scale=s.emb_scale,
                                                           divide_by=s.diversity_divide_by)
                    if mm is not None and len(mm):
                        first, second = metrics.draw_pairs(rng, s.mm_num_repeats, s.mm_num_times)
                        stats["mmodality"] = metrics.multimodality(mm, first, second)
                    stats.update(physical.summarise(quality))
                    for metric, value in stats.items():
                        values[name][metric].append(float(value))
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
        values = {row: {m: v for m, v in per.items() if v} for row, per in values.items()}
        info = {"items": len(self.dataset), "diversity_pairs": diversity_pairs,
                "touching_items": touching,
                "seconds": round(time.time() - started, 1)}
        return EvalResult(values, s, info)


def evaluate(dataset: Dataset, evaluator: Evaluator, generators: Optional[Mapping[str, Generate]] = None,
             settings: Optional[ProtocolSettings] = None, *, collate_fn: Optional[Callable] = None,
             progress: bool = True) -> EvalResult:
    """Run the protocol: `generators` maps a row name to a generate(texts, lengths, seed) callable."""
    if settings is None:
        from ..config import EvalConfig
        settings = resolve_settings(EvalConfig())
    return Protocol(dataset, evaluator, settings, collate_fn=collate_fn, progress=progress).run(generators)


def pipeline_generator(pipe, *, steps: Optional[int] = None, guidance: Optional[float] = None,
                       placement_guidance: Optional[float] = None, sampler: str = "ddim",
                       reference_anchor: Optional[bool] = None) -> Generate:
    """A protocol generator over an `InterMambaPipeline`: one batched, guided DDIM call per chunk of items,
    each item with its own length and its own seed (derived from the call's seed)."""
    def generate(texts, lengths, seed):
        seeds = np.random.SeedSequence(int(seed)).generate_state(len(texts)).tolist()
        return pipe.sample_features(list(texts), [int(n) for n in lengths], seeds, steps=steps, guidance=guidance,
                                    placement_guidance=placement_guidance, sampler=sampler,
                                    reference_anchor=reference_anchor)
    return generate
