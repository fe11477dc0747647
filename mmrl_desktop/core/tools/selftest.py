"""Qt-free health checks behind ``mmrl-desktop self-test`` (and the packaged build's CI check).

Each check is a function that returns a one-line detail when it passes, returns ``Warn(detail)``
when something optional is missing, or raises with a human-readable message when it fails.
``run_checks`` times them and never lets an exception escape, so one broken part of an
installation (a DICOM codec the bundle lost, a missing CUDA library) is reported next to the
parts that still work. The Qt and audio checks live in ``mmrl_desktop.commands.self_test``: the
core never imports Qt or sounddevice.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from mmrl_desktop.paths import resources_dir

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Warn:
    """Returned by a check whose optional part is missing (a warning, not a failure)."""

    detail: str


@dataclass
class CheckResult:
    name: str
    status: str  # OK, WARN or FAIL
    detail: str
    seconds: float

    def line(self) -> str:
        """``ok   torch 2.11.0 (cpu)`` / ``FAIL loaders: the DICOM sample could not be read: …``."""
        if self.status == FAIL:
            return f"FAIL {self.name}: {self.detail}"
        return f"{self.status:<4} {self.name} {self.detail}".rstrip()

    def to_dict(self) -> dict:
        return asdict(self)


Check = Callable[[], "str | Warn"]


def run_checks(checks: list[tuple[str, Check]]) -> list[CheckResult]:
    results = []
    for name, check in checks:
        start = time.perf_counter()
        try:
            out = check()
            status, detail = (WARN, out.detail) if isinstance(out, Warn) else (OK, str(out))
        except Exception as err:  # a failing check must not hide the others
            status, detail = FAIL, _describe(err)
        results.append(CheckResult(name, status, detail, round(time.perf_counter() - start, 3)))
    return results


def healthy(results: list[CheckResult]) -> bool:
    return all(r.status != FAIL for r in results)


def _describe(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


# ------------------------------------------------------------------------------ the checks
def check_app() -> str:
    from mmrl_desktop import __version__

    frozen = "bundle" if getattr(sys, "frozen", False) else "source"
    return f"{__version__} ({frozen}, Python {sys.version.split()[0]}, {sys.platform})"


def demo_dir() -> Path:
    return resources_dir() / "demo"


def check_resources() -> str:
    root = resources_dir()
    needed = [
        "icons/mmrl-desktop.svg",
        "icons/mmrl-desktop-256.png",
        "demo/items.csv",
        "demo/dicom/ct_demo.dcm",
    ]
    missing = [p for p in needed if not (root / p).is_file()]
    if missing:
        raise FileNotFoundError(f"missing from {root}: {', '.join(missing)}")
    rows = (root / "demo" / "items.csv").read_text(encoding="utf-8").strip().splitlines()
    return f"{root} (demo: {len(rows) - 1} items)"


def check_torch() -> str:
    import torch

    from mmrl_desktop.core.learning.device import choose_device

    device = str(choose_device("auto"))  # the trainer's --device auto
    x = torch.ones(8, 8, device=device)
    if float((x @ x).sum().item()) != 512.0:
        raise RuntimeError(f"a matrix product on {device} gave a wrong result")
    where = device
    if device == "cuda":
        where = f"cuda: {torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}"
    elif device == "cpu" and torch.version.cuda:
        where = f"cpu; CUDA {torch.version.cuda} build, no usable GPU"
    return f"{torch.__version__} ({where})"


def _engine_available() -> bool:
    try:
        return importlib.util.find_spec("mmrl_desktop.core.learning.model.policy") is not None
    except ImportError:
        return False


def check_model() -> str:
    """Build the app's default model and run one forward/backward pass on the chosen device."""
    import torch

    from mmrl_desktop.core.learning.device import choose_device

    device = str(choose_device("auto"))  # the trainer's --device auto
    torch.manual_seed(0)
    if _engine_available():
        model, inputs, what = _engine_model(device)
    else:  # the engine's model package has not landed in this build: plain torch
        model, inputs, what = _torch_model(device)
    model.to(device).train()
    start = time.perf_counter()
    out = model(inputs)
    logits = next(iter(out.values())) if isinstance(out, dict) else out
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=device)
    loss = torch.nn.functional.cross_entropy(logits, target)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    if not math.isfinite(float(loss.item())):
        raise RuntimeError(f"the loss is not finite ({loss.item()})")
    if not grads or any(g is None or not bool(torch.isfinite(g).all()) for g in grads):
        raise RuntimeError("the backward pass left missing or non-finite gradients")
    ms = (time.perf_counter() - start) * 1000.0
    n = sum(p.numel() for p in model.parameters())
    return f"{what}, {n:,} parameters, forward+backward on {device} in {ms:.0f} ms"


def _engine_model(device: str):
    import torch

    from mmrl_desktop.core.config import ModelConfig
    from mmrl_desktop.core.learning.model.policy import build_policy

    config = ModelConfig(
        image_size=32, image_channels=1, audio_seconds=2.0, modalities="image,audio,text"
    )
    model = build_policy(config, {"digit": 10})
    b = 2
    samples = int(config.audio_sample_rate * config.audio_seconds)
    ones = torch.ones(b, dtype=torch.bool, device=device)
    inputs = {
        "image": torch.rand(b, 1, 32, 32, device=device),
        "image_mask": ones,
        "audio": torch.randn(b, samples, device=device) * 0.1,
        "audio_mask": ones,
        "text": torch.randint(1, config.text_buckets, (b, 16), device=device),
        "text_mask": ones,
    }
    return model, inputs, "default policy (image+audio+text)"


def _torch_model(device: str):
    import torch
    from torch import nn

    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        nn.Linear(128, 10),
    )  # fmt: skip
    return model, torch.rand(2, 1, 32, 32, device=device), "small CNN (plain torch)"


def check_project() -> str:
    """Create a project in a temporary folder, record an answer, retract it, reopen."""
    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.core.data.project import Project, Task

    with tempfile.TemporaryDirectory(prefix="mmrl-selftest-") as tmp:
        project = Project.create(Path(tmp) / "project", tasks=[Task("digit", ["0", "1"])])
        with project.open_store() as store:
            store.add_items([Item(item_id="a", text_inline="zero", labels={"digit": "0"})])
            event = store.record_feedback("a", "digit", "1", 0.5, -1, corrected_label="0")
            store.retract(event)
        reopened = Project.open(project.root)
        with reopened.open_store() as store:
            events = list(store.all_events())
            active = store.active_feedback()
        if len(events) != 2 or active:
            raise RuntimeError(
                f"after one answer and its undo the store holds {len(events)} events and "
                f"{len(active)} active answers (expected 2 and 0)"
            )
    return "SQLite project: create, answer, undo, reopen"


def _loaders():
    """The engine's loader functions, or None while they have not landed."""
    try:
        mod = importlib.import_module("mmrl_desktop.core.data.loaders")
    except ImportError:
        return None
    names = ("load_image", "load_audio", "load_text")
    if not all(hasattr(mod, n) for n in names):
        return None
    return mod


def check_loaders() -> str:
    demo = demo_dir()
    samples = {
        "PNG image": demo / "images" / "digit0_00.png",
        "DICOM": demo / "dicom" / "ct_demo.dcm",
        "WAV": demo / "audio" / "spoken0_0.wav",
        "text": _first(demo / "texts", "*.txt"),
    }
    loaders = _loaders()
    shapes = []
    for what, path in samples.items():
        try:
            if path is None or not path.is_file():
                raise FileNotFoundError(f"{path or demo / 'texts'} is missing")
            shapes.append(_read_sample(loaders, what, path))
        except Exception as err:
            raise RuntimeError(f"the {what} sample could not be read: {_describe(err)}") from err
    via = (
        "mmrl_desktop.core.data.loaders" if loaders else "Pillow/pydicom/soundfile (no loaders yet)"
    )
    return f"{', '.join(shapes)} via {via}"


def _first(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern)) if folder.is_dir() else []
    return found[0] if found else None


def _read_sample(loaders, what: str, path: Path) -> str:
    import numpy as np

    if loaders is not None:
        if what in ("PNG image", "DICOM"):
            data = loaders.load_image(path)
            arr = getattr(data, "display", data)
        elif what == "WAV":
            data = loaders.load_audio(path)
            arr = data[0] if isinstance(data, tuple) else getattr(data, "samples", data)
        else:
            text = loaders.load_text(path)
            text = getattr(text, "text", text)
            if not str(text).strip():
                raise ValueError("the text is empty")
            return f"text {len(str(text))} chars"
    elif what == "PNG image":
        from PIL import Image

        with Image.open(path) as img:
            arr = np.asarray(img.convert("L"))
    elif what == "DICOM":
        import pydicom

        arr = pydicom.dcmread(path).pixel_array
    elif what == "WAV":
        import soundfile

        arr, _rate = soundfile.read(path, dtype="float32")
    else:
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            raise ValueError("the text is empty")
        return f"text {len(text)} chars"
    arr = np.asarray(arr)
    if arr.size == 0:
        raise ValueError("no samples/pixels")
    return f"{what.split()[0]} {'x'.join(str(s) for s in arr.shape)}"


def check_dicom_codecs() -> str:
    """pylibjpeg's plugins are found through entry points, which a bundle easily loses: compress a
    small image with RLE and JPEG 2000 (lossless) and read it back through pydicom."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless
    from pylibjpeg.utils import get_pixel_data_decoders

    decoders = get_pixel_data_decoders()
    done = []
    for uid, name in ((RLELossless, "RLE"), (JPEG2000Lossless, "JPEG 2000")):
        if uid not in decoders:
            raise RuntimeError(f"pylibjpeg has no {name} decoder (plugin or its metadata missing)")
        arr = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 7) % 4096
        ds = _dataset(Dataset, FileMetaDataset, ExplicitVRLittleEndian, arr)
        ds.compress(uid, arr, encoding_plugin="pylibjpeg")
        back = ds.pixel_array
        if not np.array_equal(back, arr):
            raise RuntimeError(f"{name} round trip changed the pixels")
        done.append(name)
    return f"pylibjpeg round trip: {', '.join(done)}; {_gdcm_decoders()}"


def _gdcm_decoders() -> str:
    """JPEG-LS and JPEG Lossless (clinical archives) decode through GDCM, which cannot encode
    them: no round trip, but the decoder must have its GDCM plugin (a bundle easily loses it)."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import JPEGLosslessSV1, JPEGLSLossless

    for uid in (JPEGLSLossless, JPEGLosslessSV1):
        if "gdcm" not in get_decoder(uid).available_plugins:
            raise RuntimeError(f"no GDCM decoder for {uid.name} (python-gdcm missing)")
    return "GDCM decodes JPEG-LS and JPEG Lossless"


def _dataset(Dataset, FileMetaDataset, syntax, arr):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.PixelData = arr.tobytes()
    return ds


def core_checks() -> list[tuple[str, Check]]:
    """The Qt-free checks, in the order they are reported."""
    return [
        ("mmrl-desktop", check_app),
        ("resources", check_resources),
        ("torch", check_torch),
        ("model", check_model),
        ("project", check_project),
        ("loaders", check_loaders),
        ("dicom-codecs", check_dicom_codecs),
    ]
