"""Make `timm` and `transformers` importable beside a torchvision whose compiled ops cannot load.

PyPI's torchvision wheels are CUDA builds. Installed beside a CPU-only torch, their `_C` extension
fails to load, and `import torchvision` then dies in `_meta_registrations` with
"operator torchvision::nms does not exist" (it registers fake kernels for `nms`/`qnms`
unconditionally). That breaks `timm` (it imports `torchvision.ops.misc`) and transformers'
`BertModel`. Nothing here needs torchvision's C++ ops, so we declare the two missing schemas:
torchvision's pure-Python part then imports, `torchvision.extension._has_ops()` stays False, and
calling a compiled op still fails with torchvision's own clear message.

Call `ensure_torchvision_importable()` before importing timm or transformers; it is idempotent and
does nothing when torchvision is absent or healthy.
"""

from __future__ import annotations

import importlib.util
import os
import sys

_MISSING_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_EXTENSIONS = (".so", ".pyd")
_state: dict[str, object] = {}


def _compiled_ops_loadable() -> bool:
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # nothing to repair
    folder = spec.submodule_search_locations[0]
    candidates = [
        f for f in os.listdir(folder) if f.startswith("_C.") and f.endswith((".so", ".pyd"))
    ]
    if not candidates:
        return False
    try:
        torch.ops.load_library(os.path.join(folder, candidates[0]))
    except (OSError, RuntimeError):
        return False
    return True


def ensure_torchvision_importable() -> str:
    """Repair the import if needed. Returns "absent", "healthy", "patched" or "already-imported"."""
    if "status" in _state:
        return str(_state["status"])
    if "torchvision" in sys.modules:
        status = "already-imported"
    elif importlib.util.find_spec("torchvision") is None:
        status = "absent"
    elif _compiled_ops_loadable():
        status = "healthy"
    else:
        import torch

        lib = torch.library.Library("torchvision", "FRAGMENT")
        for schema in _MISSING_SCHEMAS:
            lib.define(schema)
        _state["library"] = lib  # keep the registration alive for the process
        status = "patched"
    _state["status"] = status
    return status
