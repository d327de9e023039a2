"""Numerical kernels with no knowledge of models: the selective scan (mamba-ssm's signature)."""

from .scan import (
    BACKENDS,
    mamba_ssm_available,
    native_available,
    resolve_backend,
    scan_backend,
    selective_scan,
    selective_scan_fused,
    selective_scan_ref,
    triton_available,
)

__all__ = ["BACKENDS", "mamba_ssm_available", "native_available", "resolve_backend", "scan_backend", "selective_scan",
           "selective_scan_fused", "selective_scan_ref", "triton_available"]
