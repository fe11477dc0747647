"""safe_load refuses pickles that would run code — and never runs them."""

import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from mmrl_desktop.core.data.safe_load import load_weights
from mmrl_desktop.core.errors import UserError

CODE_MSG = (
    "is not a safe weights file: it contains Python code (pickle) that mmrl-desktop will not run."
)


class OpenPayload:
    """Unpickling this would create ``marker`` (open(marker, 'w'))."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class SystemPayload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.mark.parametrize("payload", [OpenPayload, SystemPayload])
@pytest.mark.parametrize("how", ["raw-pickle", "raw-pickle-protocol0", "torch-save"])
def test_malicious_pickle_is_refused_and_not_run(tmp_path, payload, how):
    marker = tmp_path / "pwned"
    evil = payload(marker)
    path = tmp_path / "weights.pt"
    if how == "raw-pickle":
        path.write_bytes(pickle.dumps({"w": evil}))
    elif how == "raw-pickle-protocol0":
        path.write_bytes(pickle.dumps(evil, protocol=0))
    else:
        torch.save({"fc.weight": torch.zeros(2, 2), "evil": evil}, path)
    assert not marker.exists()
    with pytest.raises(UserError) as info:
        load_weights(path)
    assert str(info.value) == f"{path} {CODE_MSG}"
    assert not marker.exists()


def test_safetensors_and_torch_state_dicts_load(tmp_path):
    sd = {"fc.weight": torch.randn(3, 2), "fc.bias": torch.randn(3)}
    save_file(sd, str(tmp_path / "w.safetensors"))
    torch.save(sd, tmp_path / "w.pt")
    torch.save({"state_dict": sd, "epoch": 4}, tmp_path / "wrapped.pth")
    torch.save(sd, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    for name in ("w.safetensors", "w.pt", "wrapped.pth", "legacy.pt"):
        got = load_weights(tmp_path / name)
        assert set(got) == set(sd), name
        for k in sd:
            assert torch.equal(got[k], sd[k]) and got[k].device.type == "cpu"


def test_clear_sentences_for_other_bad_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_weights(tmp_path / "missing.pt")
    with pytest.raises(UserError, match="is not a file"):
        load_weights(tmp_path)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(7, 250)) * 3)
    with pytest.raises(UserError, match="is not a weights file mmrl-desktop can read"):
        load_weights(garbage)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="is not a weights file"):
        load_weights(empty)
    torch.save({"lr": 0.1, "names": ["a"]}, tmp_path / "plain.pt")
    with pytest.raises(UserError, match="holds no model weights"):
        load_weights(tmp_path / "plain.pt")
    broken = tmp_path / "broken.safetensors"
    header = b'{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]'  # unterminated JSON
    broken.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 16)
    with pytest.raises(UserError, match="damaged safetensors"):
        load_weights(broken)
    truncated = tmp_path / "truncated.pt"
    torch.save({"w": torch.zeros(100)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    with pytest.raises(UserError):
        load_weights(truncated)
    bad_pickle = tmp_path / "bad.pt"
    bad_pickle.write_bytes(b"\x80\x02garbage")
    with pytest.raises(UserError, match="damaged PyTorch file"):
        load_weights(bad_pickle)
    script = tmp_path / "script.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(script))
    with pytest.raises(UserError, match="TorchScript program"):
        load_weights(script)
