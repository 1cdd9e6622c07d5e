"""Two Gradio 6 start-up costs that do nothing for this app, skipped (BENCHMARKS.md "Cold start").

1. Stub regeneration at import: `ComponentMeta.__new__` (gradio/component_meta.py) calls
   `create_or_modify_pyi` for every component class it defines; it reads and `ast.parse`s the
   class's source file and its .pyi, and rewrites the .pyi if they differ. That is a development
   aid for Gradio's own repository (an installed wheel ships its .pyi files), yet it is about half
   of `import gradio` on 2 vCPU. It is replaced by a no-op.
2. matplotlib on the first event: every event runs inside `utils.MatplotlibBackendMananger`
   (sic), which imports matplotlib to force its "agg" backend, so the first visitor's first query
   waits for `import matplotlib` (~0.4 s). The manager now acts only once matplotlib is loaded;
   before that, MPLBACKEND=agg (unless set) makes any first import pick "agg", the backend the
   manager would have forced. (The app's own chart draws on a bare `Figure`, backend-free.)

`patch_gradio_startup()` installs an import hook that applies both right after their Gradio
module runs (before any component class exists). Call it before the first `import gradio`; it is
idempotent, returns False if Gradio is already imported, and leaves alone what a newer Gradio no
longer has (tests/test_gradio_compat.py checks the premises).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

STUBS_MODULE = "gradio.component_meta"
STUBS_FUNCTION = "create_or_modify_pyi"
BACKEND_MODULE = "gradio.utils"
BACKEND_MANAGER = "MatplotlibBackendMananger"


def _no_stubs(*_args: Any, **_kwargs: Any) -> None:
    """Stands in for Gradio's stub writer: components need nothing from it."""


def _skip_stubs(module: ModuleType) -> None:
    if callable(getattr(module, STUBS_FUNCTION, None)):
        setattr(module, STUBS_FUNCTION, _no_stubs)


def _lazy_backend_manager(module: ModuleType) -> None:
    manager = getattr(module, BACKEND_MANAGER, None)
    if manager is None or getattr(manager, "_closp_lazy", False):
        return
    enter, leave = manager.__enter__, manager.__exit__

    def __enter__(self: Any) -> Any:
        self._closp_active = "matplotlib" in sys.modules
        return enter(self) if self._closp_active else None

    def __exit__(self: Any, *exc: Any) -> Any:
        return leave(self, *exc) if getattr(self, "_closp_active", False) else None

    manager.__enter__, manager.__exit__ = __enter__, __exit__
    manager._closp_lazy = True
    os.environ.setdefault("MPLBACKEND", "agg")


PATCHES: dict[str, Callable[[ModuleType], None]] = {
    STUBS_MODULE: _skip_stubs,
    BACKEND_MODULE: _lazy_backend_manager,
}


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        patch = PATCHES.get(name)
        if patch is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None  # let the normal machinery report it
        run_module = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def patch_gradio_startup() -> bool:
    """Install the hook; True if it will act (Gradio not imported yet)."""
    if any(name in sys.modules for name in PATCHES):
        return False
    if not any(isinstance(f, _PatchAfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchAfterImport())
    return True
