"""Import Gradio without regenerating its type stubs: about half of `import gradio` on 2 vCPU.

Gradio 6's `ComponentMeta.__new__` (gradio/component_meta.py) calls `create_or_modify_pyi` for
every component class it defines: it reads and `ast.parse`s the class's source file and its .pyi
twice, then rewrites the .pyi if it differs. That is a development aid for Gradio's own
repository; an installed wheel ships its .pyi files already, so nothing is written, but the
parsing costs 1-3 s of the ~2.5-5 s import here (BENCHMARKS.md "Cold start"). It has no effect
on what the app does.

`skip_stub_generation()` installs an import hook that, right after gradio.component_meta runs
and before any component class exists, replaces that function with a no-op. Call it before the
first `import gradio`; it is idempotent, and does nothing if Gradio is already imported or no
longer has the function (then this module can go).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

TARGET = "gradio.component_meta"
HOOKED = "create_or_modify_pyi"


def _no_stubs(*_args: Any, **_kwargs: Any) -> None:
    """Stands in for gradio's stub writer: components need nothing from it."""


class _SkipStubs(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None  # let the normal machinery report it
        run_module = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            if callable(getattr(module, HOOKED, None)):
                setattr(module, HOOKED, _no_stubs)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def skip_stub_generation() -> bool:
    """Install the hook; True if it will act (gradio.component_meta not imported yet)."""
    if TARGET in sys.modules:
        return False
    if not any(isinstance(f, _SkipStubs) for f in sys.meta_path):
        sys.meta_path.insert(0, _SkipStubs())
    return True
