"""Registration with transformers' Auto classes, so the released model card's code finds this project.

Owns one thing: telling AutoConfig, AutoModel, AutoTokenizer and AutoProcessor
that model_type "dimple" is `model_config.DimpleConfig` / `modeling.DimpleModel`,
its tokenizer class `DimpleTokenizer` and its processor `DimpleProcessor`.
`import dimple` calls `register()`; it reads no files and loads no weights, and
it loads no Qwen2.5-VL modelling code (`DimpleConfig` lives in `model_config`,
and `DimpleModel` imports the vision tower only when one is built).

Why no remote code runs even for a checkpoint whose config.json carries
`auto_map` (the released Dimple-7B's does): transformers prefers a registered
class from outside its own package over the checkpoint's code, with or without
`trust_remote_code` (its "explicit local code" rule), and the processor loads
its tokenizer with `trust_remote_code=False`. It does not know decoding or
the UI.
"""

from __future__ import annotations


def register() -> None:
    """Idempotent: registering again keeps the first registration."""
    from transformers import AutoConfig, AutoModel, AutoProcessor, AutoTokenizer

    from .hf_processor import DimpleProcessor, DimpleTokenizer
    from .model_config import DimpleConfig
    from .modeling import DimpleModel

    AutoConfig.register("dimple", DimpleConfig, exist_ok=True)
    AutoModel.register(DimpleConfig, DimpleModel, exist_ok=True)
    AutoTokenizer.register(DimpleConfig, fast_tokenizer_class=DimpleTokenizer, exist_ok=True)
    AutoProcessor.register(DimpleConfig, DimpleProcessor, exist_ok=True)
