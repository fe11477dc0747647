"""Rebuild the built-in demo project's data (run from the repository root; needs espeak-ng).

    python resources/demo/make_demo.py

Writes resources/demo/{images,audio,texts,dicom}/ and items.csv: handwritten digits from
scikit-learn's bundled set (as 32×32 PNGs), the spoken digit words synthesised with espeak-ng in
several voices, short texts, multimodal items that combine the three; and pydicom's bundled CT slice
(its patient tags replaced by a demo name) for the CT demo, not an item of this one. Deterministic.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
VOICES = [("en-us", 150), ("en-gb", 130), ("en-gb-scotland", 170), ("en-029", 140)]
TEXTS = [
    "{w}",
    "the digit {w}",
    "I think this one is a {w}",
    "handwritten {w}, slightly slanted",
]


def _png(pixels8x8: np.ndarray, path: Path) -> None:
    img = (pixels8x8 * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    Image.fromarray(img, mode="L").resize((32, 32), Image.NEAREST).save(path, optimize=True)


def _speak(word: str, voice: str, speed: int, path: Path) -> None:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), word],
        check=True,
        capture_output=True,
    )


def main() -> None:
    from sklearn.datasets import load_digits

    for sub in ("images", "audio", "texts", "dicom"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
        (HERE / sub).mkdir()
    digits = load_digits()
    rng = np.random.default_rng(7)
    rows: list[dict] = []
    for d in range(10):
        idx = rng.permutation(np.flatnonzero(digits.target == d))
        for k in range(12):  # image-only items
            name = f"digit{d}_{k:02d}"
            _png(digits.images[idx[k]], HERE / "images" / f"{name}.png")
            rows.append({"id": name, "image": f"images/{name}.png", "label": str(d)})
        for k, (voice, speed) in enumerate(VOICES):  # audio-only items
            name = f"spoken{d}_{k}"
            _speak(WORDS[d], voice, speed, HERE / "audio" / f"{name}.wav")
            rows.append({"id": name, "audio": f"audio/{name}.wav", "label": str(d)})
        for k, template in enumerate(TEXTS[:3]):  # text-only items
            rows.append(
                {"id": f"text{d}_{k}", "text": template.format(w=WORDS[d]), "label": str(d)}
            )
        for k in range(2):  # multimodal: image + audio + text file
            name = f"case{d}_{k}"
            _png(digits.images[idx[12 + k]], HERE / "images" / f"{name}.png")
            voice, speed = VOICES[(d + k) % len(VOICES)]
            _speak(WORDS[d], voice, speed + 10, HERE / "audio" / f"{name}.wav")
            (HERE / "texts" / f"{name}.txt").write_text(TEXTS[3].format(w=WORDS[d]) + "\n")
            rows.append(
                {
                    "id": name,
                    "image": f"images/{name}.png",
                    "audio": f"audio/{name}.wav",
                    "text": f"texts/{name}.txt",
                    "label": str(d),
                }
            )
    # the CT slice is not a digit: it belongs to the CT demo (``--project demo-ct``, issue 15),
    # which copies it from here; it is no longer an item of this one
    _demo_dicom(HERE / "dicom" / "ct_demo.dcm")
    with open(HERE / "items.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "image", "audio", "text", "label"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in writer.fieldnames})
    print(f"{len(rows)} items written to {HERE / 'items.csv'}")


def _demo_dicom(out: Path) -> None:
    import pydicom
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    for keyword in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "OtherPatientIDs",
        "InstitutionName",
        "ReferringPhysicianName",
        "OperatorsName",
    ):
        if keyword in ds:
            setattr(ds, keyword, "DEMO^ANONYMOUS" if keyword.endswith("Name") else "")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp) / "ct.dcm"
        ds.save_as(tmp_path)
        shutil.copyfile(tmp_path, out)


if __name__ == "__main__":
    main()
