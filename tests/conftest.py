"""Test-wide settings: headless Qt, and a user-data folder that never touches the real one."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


def _share_the_cores() -> None:
    """Under pytest-xdist (``-n auto``: one worker process per core) each worker's torch takes
    its share of the cores, not all of them: N workers × N threads would oversubscribe."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


_share_the_cores()


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """platformdirs → a temporary home so tests never read or write the user's real settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("MMRL_DESKTOP_LOG_DIR", str(home / "logs"))  # logs.install in subprocesses
    yield


@pytest.fixture(scope="module")
def tiny_lm_folder(tmp_path_factory):
    """A saved tiny Llama (1 layer) whose vocabulary is ``tests.core.tinylm.WORDS``."""
    from mmrl_desktop.core.learning.generate.tiny import build_tiny_lm
    from tests.core.tinylm import WORDS

    return build_tiny_lm(tmp_path_factory.mktemp("lm") / "lm", WORDS, hidden=16, layers=1)


@pytest.fixture
def one_torch_thread():
    """As the trainer runs (``cpu_threads`` = 1): small ops stay fast on a busy machine. Use with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
