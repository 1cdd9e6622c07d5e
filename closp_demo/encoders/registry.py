"""Registry of encoders: name -> factory. App, builder and evaluator create encoders here."""

from __future__ import annotations

from collections.abc import Callable

from closp_demo.encoders.base import Encoder

_FACTORIES: dict[str, Callable[..., Encoder]] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register(
    name: str, description: str
) -> Callable[[Callable[..., Encoder]], Callable[..., Encoder]]:
    def wrap(factory: Callable[..., Encoder]) -> Callable[..., Encoder]:
        _FACTORIES[name] = factory
        _DESCRIPTIONS[name] = description
        return factory

    return wrap


def available() -> dict[str, str]:
    return dict(_DESCRIPTIONS)


def create_encoder(name: str, **kwargs) -> Encoder:
    if name not in _FACTORIES:
        known = ", ".join(sorted(_FACTORIES))
        raise KeyError(f"unknown encoder {name!r}; available: {known}")
    return _FACTORIES[name](**kwargs)


@register("physics-minilm", "offline physics baseline (default; no network, no vision weights)")
def _physics(**kwargs) -> Encoder:
    from closp_demo.encoders.physics import PhysicsEncoder

    return PhysicsEncoder(**kwargs)


@register(
    "closp",
    "CLOSP (arXiv 2507.10403): hub model at a pinned commit, a model folder, or a safetensors "
    "state dict; choose with CLOSP_MODEL",
)
def _closp(**kwargs) -> Encoder:
    from closp_demo.encoders.closp import create_closp_encoder

    return create_closp_encoder(**kwargs)
