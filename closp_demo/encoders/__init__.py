"""Encoders: one interface (`base.Encoder`), a registry of factories (`registry.create_encoder`)."""

from closp_demo.encoders.base import Encoder, EncoderInfo, Evidence, l2_normalise
from closp_demo.encoders.registry import available, create_encoder

__all__ = ["Encoder", "EncoderInfo", "Evidence", "available", "create_encoder", "l2_normalise"]
