"""Numerical kernels with no knowledge of models: the selective scan (mamba-ssm's signature)."""

from .kernels import KernelBuildError
from .scan import (
    BACKENDS,
    backend_report,
    mamba_ssm_available,
    native_available,
    resolve_backend,
    scan_backend,
    selective_scan,
    selective_scan_fused,
    selective_scan_ref,
    triton_available,
)
from .scan_native import build_native

__all__ = ["BACKENDS", "KernelBuildError", "backend_report", "build_native", "mamba_ssm_available",
           "native_available", "resolve_backend", "scan_backend", "selective_scan", "selective_scan_fused",
           "selective_scan_ref", "triton_available"]
