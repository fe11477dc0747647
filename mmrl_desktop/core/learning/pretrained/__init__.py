"""Large pretrained encoders from a local Hugging Face folder (issue 14, ADR 0014).

    info = inspect_encoder("/models/vit-base")          # cheap: reads headers, runs nothing
    enc = load_encoder("/models/vit-base", "image")     # transformers, local files only

``transformers`` is imported only inside the functions that load a model, never when this package
is imported, so ``mmrl-desktop --help`` and the window start as fast as before.
"""

from mmrl_desktop.core.learning.pretrained.hf_folder import (
    ENCODER_MODALITIES,
    EncoderInfo,
    LoadedEncoder,
    inspect_encoder,
    load_encoder,
)

__all__ = ["ENCODER_MODALITIES", "EncoderInfo", "LoadedEncoder", "inspect_encoder", "load_encoder"]
