"""Motion datasets: readers (synthetic, interhuman, interx, bvh) deliver RawItems; one MotionDataset turns them
into InterGen-style training samples. See `dataset.py` for the reader interface and the batch contract.

    from intermamba.data import build_dataset, collate, compute_normalizer
    train = build_dataset(cfg.data, "train")
    loader = DataLoader(train, batch_size=32, shuffle=True, collate_fn=collate)
"""

from .dataset import (DATASETS, SPLITS, MotionDataset, RawItem, build_dataset, collate, compute_normalizer,
                      report_skipped)

__all__ = ["DATASETS", "SPLITS", "MotionDataset", "RawItem", "build_dataset", "collate", "compute_normalizer",
           "report_skipped"]
