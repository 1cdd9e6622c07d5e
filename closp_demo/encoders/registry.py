"""Registry of encoders: name -> factory. App, builder and evaluator create encoders here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from closp_demo.encoders.base import Encoder

if TYPE_CHECKING:
    from closp_demo.settings import Settings

Factory = Callable[..., Encoder]  # (settings, **overrides) -> Encoder
_FACTORIES: dict[str, Factory] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register(name: str, description: str) -> Callable[[Factory], Factory]:
    def wrap(factory: Factory) -> Factory:
        _FACTORIES[name] = factory
        _DESCRIPTIONS[name] = description
        return factory

    return wrap


def available() -> dict[str, str]:
    return dict(_DESCRIPTIONS)


def create_encoder(name: str, settings: Settings | None = None, **kwargs) -> Encoder:
    """The encoder `name`, configured by `settings` (default: `Settings.from_env()`, read now)."""
    if name not in _FACTORIES:
        known = ", ".join(sorted(_FACTORIES))
        raise KeyError(f"unknown encoder {name!r}; available: {known}")
    if settings is None:
        from closp_demo.settings import Settings

        settings = Settings.from_env()
    return _FACTORIES[name](settings, **kwargs)


@register("physics-minilm", "offline physics baseline (default; no network, no vision weights)")
def _physics(settings: Settings, **kwargs) -> Encoder:
    from closp_demo.encoders.physics import PhysicsEncoder

    return PhysicsEncoder(**{"device": settings.device, **kwargs})


@register(
    "closp",
    "CLOSP (arXiv 2507.10403): hub model at a pinned commit, a model folder, or a safetensors "
    "state dict; choose with CLOSP_MODEL",
)
def _closp(settings: Settings, **kwargs) -> Encoder:
    from closp_demo.encoders.closp import create_closp_encoder

    return create_closp_encoder(settings, **kwargs)
