"""The status bar's progress bar while a pretrained encoder's embeddings are computed (issue 14).

The trainer process computes each item's embedding once, in the background, and reports how far
it is — ``embeddings_done`` and ``embeddings_total`` in its ``Info`` (``Trainer.info()``) or as
the metrics ``embeddings/done`` and ``embeddings/total`` of a training event. The bar shows
"Embeddings 1,234 / 5,000" while ``done < total`` and hides itself when the cache is full (or no
pretrained encoder is used). It only reads numbers the controller already delivers: nothing on
the click path waits for it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QProgressBar

from mmrl_desktop.gui.widgets import reserve_width

INFO_KEYS = ("embeddings_done", "embeddings_total")
METRIC_KEYS = ("embeddings/done", "embeddings/total")


class EmbeddingProgress(QProgressBar):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("embeddingProgress")
        self.setTextVisible(True)
        self.setMaximumHeight(16)
        self.setToolTip(
            "Each item's embedding by the pretrained encoder is computed once and kept in the "
            "project; learning uses the items already done, and you can keep answering."
        )
        reserve_width(self, "Embeddings 000,000 / 000,000  ")
        self.done, self.total = 0, 0
        self.hide()

    def set_progress(self, done: int, total: int) -> None:
        """Show ``done / total`` while unfinished; hide at 100 % or when there is nothing to do."""
        done, total = max(0, int(done)), max(0, int(total))
        if (done, total) == (self.done, self.total):
            return  # no repaint for a repeated report
        self.done, self.total = done, total
        if total == 0 or done >= total:
            self.hide()
            return
        self.setRange(0, total)
        self.setValue(done)
        self.setFormat(f"Embeddings {done:,} / {total:,}")
        self.show()

    def on_info(self, info: dict) -> None:
        if all(k in info for k in INFO_KEYS):
            self.set_progress(info[INFO_KEYS[0]], info[INFO_KEYS[1]])

    def on_metrics(self, metrics: dict) -> None:
        if all(k in metrics for k in METRIC_KEYS):
            self.set_progress(metrics[METRIC_KEYS[0]], metrics[METRIC_KEYS[1]])
