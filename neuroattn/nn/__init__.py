"""Neural-network building blocks shared by the models: wavelet transform, LoRA, RMSNorm."""

from neuroattn.nn.lora import LoRALinear, add_lora, lora_parameters, merge_lora
from neuroattn.nn.wavelet import (
    DB4_DEC_HI,
    DB4_DEC_LO,
    db4_coeff_lengths,
    db4_max_level,
    dwt_db4,
    dwt_db4_levels,
)

__all__ = [
    "LoRALinear",
    "add_lora",
    "lora_parameters",
    "merge_lora",
    "DB4_DEC_HI",
    "DB4_DEC_LO",
    "db4_coeff_lengths",
    "db4_max_level",
    "dwt_db4",
    "dwt_db4_levels",
]
