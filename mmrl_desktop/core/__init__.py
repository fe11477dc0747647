"""The Qt-free core: data, store, models, algorithms, trainer. Never imports Qt (see pyproject's
import-linter contract and tests/core/test_architecture.py)."""
