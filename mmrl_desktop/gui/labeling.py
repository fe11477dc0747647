"""LabelingController: turns clicks into session calls and keeps the widgets in step.

It owns the Qt-free ``LabelingSession`` (GUI thread, own store connection) and the
``Prefetcher``; it talks to the trainer only through ``TrainerController``. Per click it does the
minimum: one committed transaction, then the next item — usually a flip to the viewer page it was
preloaded on. The rest waits until that item is on screen (``after_paint``): waking the trainer
and telling it the queue, decoding the items ahead on the prefetch thread, and preloading the
next item on a hidden viewer page. Everything heavier happens on other threads.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.labelling.prefetch import Prefetcher
from mmrl_desktop.core.labelling.session import Click, ItemStatus, LabelingSession
from mmrl_desktop.core.labelling.tips import CorrectionTip
from mmrl_desktop.gui.chart_history import AnswerCharts, rewards_of
from mmrl_desktop.gui.queue_panel import answer_counts

# the title's second line for an item that already has an answer (a revisit from the list)
STATUS_NOTE = {
    ItemStatus.NEW: "",
    ItemStatus.UP: "  ·  answered: right",  # short enough for the panel at 1280 px
    ItemStatus.DOWN: "  ·  answered: wrong",
    ItemStatus.CORRECTED: "  ·  corrected",
    ItemStatus.SKIPPED: "  ·  skipped",
}
PREFETCH_AHEAD = 4
QUEUE_AHEAD = 8  # items predicted after each model version: the next few are enough
CLICK_HOLD_S = 0.05  # the trainer waits this long after a click so the paint is not slowed
CHART_HOLD_S = 0.3  # and the charts redraw only once the expert pauses
TIP_ITEMS = 4  # the correction tip is shown on this many items once it is due (tips.py)


class LabelingController(QObject):
    itemShown = Signal(str)  # item id, after the viewer and panel have new content
    answered = Signal(object)  # Click
    countsChanged = Signal(int, int)  # answered, total
    messageRequested = Signal(str)
    _decoded = Signal(str)  # from the prefetch thread (queued): an item is ready to show

    def __init__(
        self,
        project: Project,
        annotator: str | None,
        queue,
        viewer,
        feedback,
        charts,
        trainer,
        parent=None,
        after_paint=None,
    ):
        """``after_paint(fn)``: run ``fn`` once the window has painted what a click changed
        (the main window's ``AfterPaint``); by default at the next event-loop turn."""
        super().__init__(parent)
        self._after_paint = after_paint or (lambda fn: QTimer.singleShot(0, self, fn))
        self.project = project
        self.queue = queue
        self.viewer = viewer
        self.feedback = feedback
        self.charts = charts
        self.trainer = trainer
        self.session = LabelingSession(project, project.open_store(), annotator)
        self.tip = CorrectionTip.for_tasks(project.tasks)  # core/labelling/tips.py
        self._tip_text, self._tip_left = "", 0
        self.prefetcher = Prefetcher(on_ready=self._decoded.emit)
        self._decoded.connect(self._on_decoded)
        self._next_id: str | None = None  # the item expected after the shown one
        self._settled = True  # the shown item is on screen (look-ahead work may run)
        # thumbs-up and prequential charts: restored from the log, then one point per answer
        self.answer_charts = AnswerCharts(charts, rewards_of(self.session.store))
        self.answer_charts.start_restore(
            str(project.root), self.session, [t.name for t in project.tasks]
        )
        queue.set_session(self.session)
        trainer.predictionsArrived.connect(self.on_predictions)
        trainer.nextItemsArrived.connect(self.on_next_items)
        # the viewer builds a page per modality combination of this project ahead, in idle time
        viewer.prepare({tuple(m.value for m in it.modalities) for it in self.session.items})

    # ------------------------------------------------------------ showing
    def show_current(self) -> None:
        s = self.session
        item = s.current_item()
        if item is None:
            self.feedback.show_item("The queue is empty: import items first.", {}, False)
            self.feedback.set_enabled(False)
            return
        view = self.prefetcher.get(item)
        self.viewer.show_item(
            view.image, view.audio, view.text, view.sound, key=item.item_id, volume=view.volume
        )
        shown = s.show(item.item_id)
        # where the item is in the list (also after a jump to it there) and whether it has an
        # answer already
        note = STATUS_NOTE[s.status[item.item_id]]
        title = f"{item.item_id}\n{s.current + 1} of {len(s.items)}{note}"
        self.feedback.show_item(title, shown, s.has_model_prediction(item.item_id))
        if s.all_done():
            self.feedback.show_message("Every item has an answer. Evaluate, or import more.")
        else:
            self.feedback.show_message(" ".join(view.errors))
        self._tip_left = max(0, self._tip_left - 1)
        self.feedback.show_tip(self._tip_text if self._tip_left else "")
        self.queue.select(item.item_id)
        self._settled = False
        self._after_paint(self._look_ahead)
        self.itemShown.emit(item.item_id)

    def _look_ahead(self) -> None:
        """Once the shown item is on screen: the trainer learns what is queued, the prefetch
        thread decodes the next items, and the next one is preloaded on a hidden page."""
        self._settled = True
        s = self.session
        item = s.current_item()
        if item is None:
            return
        ahead = [i for i in s.upcoming_ids(QUEUE_AHEAD) if i != item.item_id]
        # the shown item first (also when revisiting an answered one), then what comes next
        self.trainer.set_queue([item.item_id] + ahead)
        self.prefetcher.prefetch(s.items[s._index[i]] for i in ahead[:PREFETCH_AHEAD])
        self._next_id = ahead[0] if ahead else None
        self._preload()

    def _on_decoded(self, item_id: str) -> None:
        if self._settled and item_id == self._next_id:
            self._preload()

    def _preload(self) -> None:
        nid = self._next_id
        if nid is None or not self.prefetcher.ready(nid) or self.viewer.preloaded(nid):
            return
        view = self.prefetcher.get(self.session.items[self.session._index[nid]])
        self.viewer.preload(nid, view.image, view.audio, view.text, view.sound, volume=view.volume)

    # ------------------------------------------------------------ clicks
    def thumb_up(self) -> None:
        self._do(lambda: self.session.answer(+1))

    def thumb_down(self) -> None:
        self._do(lambda: self.session.answer(-1))

    def correct(self, task: str, label: str) -> None:
        self._do(lambda: self.session.answer(-1, corrected={task: label}))

    def correct_first_task(self, label: str) -> None:
        """A label's key (``label_keys.py``): the right label of the first task is ``label``."""
        if self.session.tasks:
            self.correct(self.session.tasks[0].name, label)

    def skip(self) -> None:
        self._do(self.session.skip, answered=False)

    def undo(self) -> None:
        action = self.session.undo()
        if action is None:
            self.feedback.show_message("Nothing to undo.")
            return
        self.answer_charts.unrecord(action)
        if action.excluded:
            self.queue.items_changed()
            self.show_current()
            self.feedback.show_message(f"Undone: {action.item_id} is back in the queue.")
        else:
            self.tip.forget(action.status)
            self.queue.item_changed(action.item_id)
            self.show_current()  # first: showing an item clears the message line
            self.feedback.show_message(f"Undone: the answer on {action.item_id} was withdrawn.")
        self._after_paint(self.trainer.feedback_arrived)
        self.countsChanged.emit(*answer_counts(self.session))

    def exclude(self) -> None:
        """Set the shown item aside (one committed row; the trainer sees it at its next step)
        and show the next one. Ctrl+Z brings it back."""
        if self.session.current_item() is None:
            self.feedback.show_message("The queue is empty: import items first.")
            return
        self.trainer.hold(CLICK_HOLD_S)
        action = self.session.exclude("excluded in the app")
        self.queue.items_changed()
        self.show_current()
        self.feedback.show_message(
            f"Excluded {action.item_id}: out of the queue, training and evaluation; its answers "
            "stay in the log. Ctrl+Z brings it back."
        )
        self._after_paint(self.trainer.feedback_arrived)
        self.countsChanged.emit(*answer_counts(self.session))

    def include(self, item_ids: list[str]) -> None:
        """Bring excluded items back into the queue (Edit ▸ Include excluded items…)."""
        done = self.session.include(item_ids)
        if not done:
            return
        self.queue.items_changed()
        self.show_current()
        self.feedback.show_message(f"{len(done)} item(s) are back in the queue.")
        self._after_paint(self.trainer.feedback_arrived)
        self.countsChanged.emit(*answer_counts(self.session))

    def activate(self, item_id: str) -> None:
        self.session.go_to(item_id)
        self.show_current()

    def _do(self, fn, answered: bool = True) -> None:
        if self.session.current_item() is None:
            self.feedback.show_message("The queue is empty: import items first.")
            return
        self.trainer.hold(CLICK_HOLD_S)
        self.charts.hold(CHART_HOLD_S)
        try:
            action: Click = fn()
        except (ValueError, IndexError, RuntimeError) as err:
            self.feedback.show_message(str(err))
            return
        self.queue.item_changed(action.item_id)
        self.show_current()
        if answered and action.previous_status not in (ItemStatus.NEW, ItemStatus.SKIPPED):
            self.feedback.show_message(  # review: each answer is an event of the log
                f"A second answer on {action.item_id}: the earlier one counts too; "
                "Ctrl+Z withdraws this one."
            )
        self._after_paint(self.trainer.feedback_arrived)  # the trainer starts on it after the paint
        if answered:
            self._record_reward(action)
            tip = self.tip.record(action.status)
            if tip is not None:
                self._tip_text, self._tip_left = tip, TIP_ITEMS
                self.feedback.show_tip(tip)
        self.answered.emit(action)
        self.countsChanged.emit(*answer_counts(self.session))

    def _record_reward(self, action: Click) -> None:
        self.answer_charts.record(action)  # its points once the click has painted
        self._after_paint(self.answer_charts.drain)

    # ------------------------------------------------------------ from the trainer
    def on_predictions(self, preds) -> None:
        s = self.session
        item = s.current_item()
        was_guess = item is not None and s.is_pinned_guess(item.item_id)
        s.update_predictions(preds)
        if was_guess and item.item_id in preds:
            # the warm-up guess is replaced by the model's own choice, visibly
            shown = s.show(item.item_id)
            self.feedback.show_item(self.feedback.item_title.text(), shown, True)

    def on_next_items(self, event) -> None:
        """The trainer's choice of the next items (``[algorithm] next_item``, ADR 0013): the
        session asks them next; once the shown item is on screen they are the look-ahead
        (queued for predictions, decoded, the first preloaded). The shown item stays."""
        self.session.set_next_items(event.item_ids, event.propensities, event.order, event.pools)
        if self._settled:
            self._look_ahead()

    def close(self) -> None:
        self.answer_charts.close()
        self.prefetcher.close()
        self.session.store.close()
