"""Compute-device choice: CUDA when present, else CPU; CLOSP_DEVICE overrides."""

from __future__ import annotations

import os


def resolve_device(requested: str | None = None) -> str:
    """`requested` (or env CLOSP_DEVICE): "auto" (default), "cpu", "cuda" or "cuda:N"."""
    import torch

    choice = (requested or os.environ.get("CLOSP_DEVICE") or "auto").strip().lower()
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {choice!r} requested but no CUDA GPU is available")
    if choice != "cpu" and not choice.startswith("cuda"):
        raise ValueError(f"unknown device {choice!r}: use auto, cpu, cuda or cuda:N")
    return choice
