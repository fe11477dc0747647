"""Create a tiny project (ten demo digits) without the importer, for launch checks of a bundle.

    python packaging/smoke_project.py /tmp/smoke-project
    packaging/dist/mmrl-desktop/mmrl-desktop --project /tmp/smoke-project --quit-after-paint

The images are referenced where they are in the source tree's resources/demo/images.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mmrl_desktop.core.items import Item  # noqa: E402
from mmrl_desktop.core.project import Project, Task  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python packaging/smoke_project.py PROJECT_DIR\n")
        return 2
    images = ROOT / "resources" / "demo" / "images"
    labels = [str(i) for i in range(10)]
    project = Project.create(argv[0], name="bundle smoke test", tasks=[Task("digit", labels)])
    with project.open_store() as store:
        store.add_items(
            Item(item_id=f"digit{d}", image=str(images / f"digit{d}_00.png"), labels={"digit": d})
            for d in labels
        )
    print(project.root)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
