"""mmrl_desktop: teach a multimodal model with thumbs (learning from expert feedback), offline."""

__version__ = "0.1.0"
