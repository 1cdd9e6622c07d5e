"""Registry of encoders, like open_clip's pretrained list: names and their data in `models.json`,
one small factory per family. App, builders and evaluator create encoders here.

Each released CLOSP model is its own name (`closp-rn`, `closp-vs`, `closp-vl`, `geoclosp-rn`) with
its hub id, pinned revision and architecture; `closp` loads whatever CLOSP_MODEL names, and is
the same encoder as a released name when CLOSP_MODEL names that release (see closp.py, identity).
The name is what a corpus manifest records and what the app checks a corpus against. A new
release is a new entry in models.json; a new kind of model is a factory in `FAMILIES`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from closp_demo.encoders.base import Encoder

if TYPE_CHECKING:
    from closp_demo.settings import Settings

LIST = "list"  # `--encoder list` prints the registry


@lru_cache(maxsize=1)
def load_models() -> dict[str, dict[str, Any]]:
    """Every registered encoder's entry in models.json, by name."""
    text = resources.files("closp_demo.encoders").joinpath("models.json").read_text()
    return dict(json.loads(text)["models"])


def available() -> dict[str, str]:
    """Name -> one-line description."""
    return {name: spec["description"] for name, spec in load_models().items()}


def releases() -> dict[str, dict[str, Any]]:
    """The released CLOSP models by release name ("CLOSP-RN", ...), each with its "encoder" name."""
    return {
        spec["release"]: {**spec, "encoder": name}
        for name, spec in load_models().items()
        if "release" in spec
    }


def create_encoder(name: str, settings: Settings | None = None, **kwargs: Any) -> Encoder:
    """The encoder `name`, configured by `settings` (default: `Settings.from_env()`, read now);
    keyword arguments go to its factory (they override the settings)."""
    models = load_models()
    if name not in models:
        raise KeyError(f"unknown encoder {name!r}; available: {', '.join(models)}")
    if settings is None:
        from closp_demo.settings import Settings

        settings = Settings.from_env()
    spec = models[name]
    return FAMILIES[spec["family"]](spec, settings, **kwargs)


def _physics(spec: dict[str, Any], settings: Settings, **kwargs: Any) -> Encoder:
    from closp_demo.encoders.physics import PhysicsEncoder

    return PhysicsEncoder(**{"device": settings.device, **kwargs})


def _closp(spec: dict[str, Any], settings: Settings, **kwargs: Any) -> Encoder:
    from closp_demo.encoders.closp_loaders import create_closp_encoder
    from closp_demo.encoders.selfcheck import check_s2_input

    encoder = create_closp_encoder(settings, release=spec.get("release"), **kwargs)
    check_s2_input(encoder)  # logs a warning when the S2 scaling (CLOSP_S2_INPUT) looks wrong
    return encoder


FAMILIES: dict[str, Callable[..., Encoder]] = {"physics": _physics, "closp": _closp}


def listing() -> str:
    """What `--encoder list` prints: each name, its description, a released model's hub data."""
    models = load_models()
    width = max(map(len, models))
    lines = []
    for name, spec in models.items():
        lines.append(f"{name:<{width}}  {spec['description']}")
        if "repo_id" in spec:
            revision = spec["revision"]
            pinned = revision if len(revision) == 40 else "unpinned: set CLOSP_REVISION"
            lines.append(f"{'':<{width}}  hub {spec['repo_id']} @ {pinned}")
    return "\n".join(lines)


class _EncoderName(argparse.Action):
    """--encoder NAME: a registered name; `list` prints the registry and exits 0."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # type: ignore[no-untyped-def]
        if values == LIST:
            print(listing())
            parser.exit(0)
        if values not in load_models():
            parser.error(f"unknown encoder {values!r}: one of {', '.join(load_models())} "
                         f"(--encoder {LIST} describes them)")  # fmt: skip
        setattr(namespace, self.dest, values)


def add_encoder_argument(parser: argparse.ArgumentParser, default: str | None, help: str) -> None:
    """The --encoder flag every command-line tool shares."""
    parser.add_argument(
        "--encoder", default=default, action=_EncoderName, metavar="NAME",
        help=f"{help}; `--encoder {LIST}` lists the registered encoders",
    )  # fmt: skip
