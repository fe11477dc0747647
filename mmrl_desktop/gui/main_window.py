"""The main window: assembles the widgets and wires their signals. No logic lives here.

Start-up is in two phases so the window paints within a second: ``__init__`` builds the light
widgets (queue, feedback panel, status bar, menus); ``finish_startup`` — run by a zero-timer after
the first paint — builds the pyqtgraph viewers and charts, opens the session and starts the trainer
(its worker thread spawns the trainer process, which imports torch; the window process imports
torch only for an evaluation or export it is asked for).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QStackedWidget

from mmrl_desktop import __version__
from mmrl_desktop.core.data.project import Project
from mmrl_desktop.gui.actions import ABOUT_TEXT, build_actions, shortcuts_text
from mmrl_desktop.gui.app import DesktopApp, WindowOptions
from mmrl_desktop.gui.feedback_panel import FeedbackPanel
from mmrl_desktop.gui.queue_panel import QueuePanel, answer_counts
from mmrl_desktop.gui.status import StatusBar
from mmrl_desktop.gui.trainer_worker import TrainerController
from mmrl_desktop.gui.widgets import AfterPaint


class MainWindow(QMainWindow):
    firstPainted = Signal()  # the window has painted once (phase 1 done)
    ready = Signal()  # viewers, charts, session and trainer are up

    def __init__(
        self,
        project: Project,
        annotator: str | None = None,
        device: str = "auto",
        start_trainer: bool = True,
        trainer_factory=None,
        app: DesktopApp | None = None,
    ):
        super().__init__()
        # the app object that replaces this window when another project is opened (gui/app.py)
        if app is None:
            app = DesktopApp(WindowOptions(annotator, device, start_trainer, trainer_factory))
        self.app = app
        self.project = project
        self.annotator = annotator
        self.start_trainer = start_trainer
        self.setWindowTitle(f"{project.name} — mmrl-desktop")
        self.resize(1280, 800)
        self._first_labels = project.tasks[0].labels if project.tasks else []
        self.actions_ = build_actions(self, self._first_labels)
        self.queue = QueuePanel()
        self.feedback = FeedbackPanel([(t.name, t.labels) for t in project.tasks])
        self.feedback.set_enabled(False)
        self.feedback.show_message("Loading…")
        self.center = QStackedWidget()
        self.placeholder = QLabel("Loading the viewer…")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.center.addWidget(self.placeholder)
        self.setCentralWidget(self.center)
        self.queue_dock = self._dock("Items", self.queue, Qt.LeftDockWidgetArea, "queueDock")
        self._dock("Prediction", self.feedback, Qt.RightDockWidgetArea, "feedbackDock")
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.trainer = TrainerController(str(project.root), device, trainer_factory, parent=self)
        self.after_paint = AfterPaint(self)  # look-ahead work waits for the click's paint
        self.viewer = None
        self.charts = None
        self.labeling = None
        self.drafts = None  # gui/draft_panel.DraftController, with a generate task
        self._started = False

    def _dock(self, title: str, widget, area, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable)
        self.addDockWidget(area, dock)
        if hasattr(self, "view_menu"):
            self.view_menu.addAction(dock.toggleViewAction())
        return dock

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._started:
            self._started = True
            self.feedback.installEventFilter(self)

    def event(self, event) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.UpdateRequest:  # the window has just painted
            self.after_paint.painted()
        return handled

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        """Phase 2 starts after the first paint has finished (not merely been queued)."""
        if obj is self.feedback and event.type() == QEvent.Paint:
            self.feedback.removeEventFilter(self)
            obj.event(event)  # paint now, then report
            self.firstPainted.emit()
            QTimer.singleShot(0, self, self.finish_startup)
            return True
        return super().eventFilter(obj, event)

    # ------------------------------------------------------------------ phase 2
    def finish_startup(self) -> None:
        from mmrl_desktop.gui.charts import ChartsPanel
        from mmrl_desktop.gui.labeling import LabelingController
        from mmrl_desktop.gui.screen_fit import fit_to_screen
        from mmrl_desktop.gui.viewers.multi_view import MultiView

        self.viewer = MultiView()
        self.center.addWidget(self.viewer)
        self.center.setCurrentWidget(self.viewer)
        self.charts = ChartsPanel()
        self.charts.set_order(str(self.project.algorithm.get("next_item", "shuffle")))
        charts_dock = self._dock("Training", self.charts, Qt.BottomDockWidgetArea, "chartsDock")
        self.resizeDocks([charts_dock], [230], Qt.Vertical)
        QTimer.singleShot(0, self, lambda: fit_to_screen(self, charts_dock))  # once laid out
        self.labeling = LabelingController(
            self.project,
            self.annotator,
            self.queue,
            self.viewer,
            self.feedback,
            self.charts,
            self.trainer,
            parent=self,
            after_paint=self.after_paint.call,
        )
        # the list wide enough for its entries (up to a quarter of the window), before the item
        self.resizeDocks(
            [self.queue_dock], [self.queue.preferred_width(self.width() // 4)], Qt.Horizontal
        )
        self._wire()
        from mmrl_desktop.gui.draft_panel import attach_drafts

        self.drafts = attach_drafts(self)  # a generate task's draft dock (None without one)
        self.labeling.show_current()
        self.status.set_counts(*answer_counts(self.labeling.session))
        if self.start_trainer:
            self.trainer.start()
        self.ready.emit()

    def _order_changed(self, info: dict) -> None:
        if "next_item" in info:  # the charts say what their figures are about (ADR 0013)
            self.charts.set_order(str(info["next_item"]))

    def _wire(self) -> None:
        a, lab, fb = self.actions_, self.labeling, self.feedback
        a.thumb_up.triggered.connect(lab.thumb_up)
        a.thumb_down.triggered.connect(lab.thumb_down)
        a.skip.triggered.connect(lab.skip)
        a.undo.triggered.connect(lab.undo)
        a.exclude.triggered.connect(lab.exclude)
        for act in a.correct:  # a label's key corrects to it (label_keys.py)
            act.triggered.connect(lambda _=False, label=act.data(): lab.correct_first_task(label))
        a.find_label.triggered.connect(fb.find_label)
        a.play.triggered.connect(self.viewer.toggle_play)
        fb.thumbUp.connect(lab.thumb_up)
        fb.thumbDown.connect(lab.thumb_down)
        fb.skipRequested.connect(lab.skip)
        fb.undoRequested.connect(lab.undo)
        fb.correctRequested.connect(lab.correct)
        self.queue.itemActivated.connect(lab.activate)
        lab.countsChanged.connect(self.status.set_counts)
        lab.messageRequested.connect(fb.show_message)
        a.train_start.triggered.connect(self.trainer.start)
        a.train_pause.triggered.connect(self.trainer.pause)
        a.train_stop.triggered.connect(self.trainer.stop)
        self.trainer.stateChanged.connect(self.status.set_trainer_state)
        self.trainer.infoChanged.connect(self.status.set_info)
        self.trainer.nextItemsArrived.connect(self.status.on_next_items)
        self.trainer.infoChanged.connect(self._order_changed)
        self.trainer.warned.connect(self.status.show_error)
        self.trainer.metricsArrived.connect(self.status.on_event)
        self.trainer.metricsArrived.connect(self.charts.add_trainer_metrics)
        a.shortcuts_help.triggered.connect(
            lambda: QMessageBox.information(
                self, "Keyboard shortcuts", shortcuts_text(self._first_labels)
            )
        )
        a.quit.triggered.connect(self.close)
        a.about.triggered.connect(
            lambda: QMessageBox.about(self, "About mmrl-desktop", ABOUT_TEXT.format(__version__))
        )
        self._wire_dialogs()

    # ------------------------------------------------------------------ dialogs
    def _wire_dialogs(self) -> None:
        """Menu actions → dialogs. The dialogs' logic lives in ``gui/dialogs/``."""
        from mmrl_desktop.gui.dialogs import (
            checkpoints,
            evaluation,
            excluded_items,
            export_dialog,
            import_dialog,
            moved_files,
            new_project,
            open_project,
            settings,
        )

        a = self.actions_
        a.new_project.triggered.connect(lambda: new_project.open_new_project(self))
        a.open_project.triggered.connect(lambda: open_project.choose_project(self))
        a.import_data.triggered.connect(lambda: import_dialog.open_import(self))
        a.export.triggered.connect(lambda: export_dialog.open_export(self))
        a.settings.triggered.connect(lambda: settings.open_settings(self))
        a.evaluate.triggered.connect(lambda: evaluation.open_evaluation(self))
        a.checkpoints.triggered.connect(lambda: checkpoints.open_checkpoints(self))
        a.include.triggered.connect(lambda: excluded_items.open_excluded_items(self))
        a.find_moved.triggered.connect(lambda: moved_files.find_moved_files(self))
        open_project.wire_recent_menu(self)

    def open_project(self, path):
        """Replace this window by one on the project at ``path`` (None if it cannot open)."""
        return self.app.reopen(self, path)

    def evaluation_snapshot(self, path):
        """Render the evaluation view to a PNG (``mmrl-desktop snapshot``)."""
        from mmrl_desktop.gui.dialogs.evaluation import evaluation_snapshot

        return evaluation_snapshot(self, path)

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> None:
        """Drop the work queued for after the next paint, stop the trainer (bounded wait) and
        close the session's store."""
        self.after_paint.close()  # it would run against the closed store (chart points, …)
        self.trainer.stop()
        if self.labeling is not None:
            self.labeling.close()
            self.labeling = None

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)
