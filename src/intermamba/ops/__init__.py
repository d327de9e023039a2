"""Numerical kernels with no knowledge of models: the selective scan (mamba-ssm's signature)."""

from .scan import selective_scan, selective_scan_ref

__all__ = ["selective_scan", "selective_scan_ref"]
