"""The ``generate`` task's model: a local language or vision-language model that drafts text and
learns from thumbs (KTO) and edits (supervised) through LoRA adapters (issue 16, ADR 0018).

``lm_folder`` inspects, refuses and loads a model folder; ``policy.GenerativePolicy`` drafts and
learns; ``kto`` is the loss; ``tiny`` builds tiny models from configs (tests, benchmark).
Importing this package imports neither torch nor transformers.
"""
