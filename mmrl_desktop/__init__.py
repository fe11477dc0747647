"""mmrl_desktop: teach a multimodal model with thumbs (learning from expert feedback), offline."""

from importlib.metadata import PackageNotFoundError, version

try:  # the one place the version is written is pyproject.toml; the bundle copies the metadata
    __version__ = version("mmrl-desktop")
except PackageNotFoundError:  # a source tree that was never installed (not even -e)
    __version__ = "0+unknown"
