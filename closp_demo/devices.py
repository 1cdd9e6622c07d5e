"""Compute-device choice: CUDA when present, else CPU; the CLOSP_DEVICE setting overrides.

"auto" and "cpu" avoid `import torch` (1.5-2.3 s of start-up) where they can: on Linux without
an NVIDIA driver (no /proc/driver/nvidia/version) and torch not loaded yet, "auto" is "cpu".
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Present whenever the NVIDIA kernel driver is loaded; torch.cuda needs that driver.
NVIDIA_DRIVER_FILE = Path("/proc/driver/nvidia/version")
DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"
_DEVICE = re.compile(r"auto|cpu|cuda(:[0-9]+)?")


def _cuda_impossible() -> bool:
    """True when CUDA surely is unavailable, found without importing torch."""
    if "torch" in sys.modules:  # already paid for: ask torch itself
        return False
    # /proc only tells on Linux (elsewhere ask torch); a ROCm build also answers torch.cuda
    # (through /dev/kfd), so leave that case to torch too.
    if not sys.platform.startswith("linux") or Path("/dev/kfd").exists():
        return False
    return not NVIDIA_DRIVER_FILE.exists()


def device_name(requested: str | None) -> str:
    """The normalised device name ("auto" for None or empty); ValueError for anything else."""
    choice = (requested or "auto").strip().lower()
    if not _DEVICE.fullmatch(choice):
        raise ValueError(f"unknown device {requested!r}: use {DEVICE_CHOICES}")
    return choice


def resolve_device(requested: str | None = None) -> str:
    """`requested`: "auto" (default; CUDA if present), "cpu", "cuda" or "cuda:N"."""
    choice = device_name(requested)
    if choice == "cpu" or (choice == "auto" and _cuda_impossible()):
        return "cpu"
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise RuntimeError(f"device {choice!r} requested but no CUDA GPU is available")
    return choice
