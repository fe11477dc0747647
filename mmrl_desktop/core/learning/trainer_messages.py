"""What the app and the trainer loop say to each other: frozen dataclasses, defined once.

Commands go from the app to the loop (``TrainerClient.send``); each one applies itself to the
loop's ``LoopControl`` (``command.apply(control)``), in the trainer process or thread alike:

    Stop()              stop after the current step (a checkpoint is saved on the way out)
    Pause() / Resume()  stop stepping / step again
    SetQueue(ids)       the items the app shows next: predicted after each new model version
    Wake()              new feedback arrived: step now instead of after the idle wait
    Hold(seconds)       start no step for a moment (a trainer *thread* only: it shares the
                        interpreter lock with the GUI's paint; a process is never held)

Events go from the loop to the app (``TrainerClient.poll``):

    State(state)        loading | running | paused | idle | stopped | error
    Info(info)          ``Trainer.info()``: device, model version, algorithm, …
    Metrics(step, model_version, metrics)   at most every ``EVENT_INTERVAL_S``; the keys are the
                        charts' keys already (``chart_keys``)
    Predictions(predictions, model_version)   {item_id: {task: Prediction}} of the queue, once
                        per model version (and when the queue changed)
    NextItems(item_ids, propensities, order, model_version, pools)   with an active next-item
                        order (``[algorithm] next_item``, ``core/learning/next_item.py``): the
                        items to ask next, each with its selection probability among ``pools``
                        unanswered items (stored with the answer); their Predictions follow
    Drafts(drafts, task)   a ``generate`` task's drafts (``core/data/drafts.Draft``, already
                        stored), made ahead of the expert for the queue's next items
    Warned(text)        one sentence; training goes on (a checkpoint skipped or not saved, …)
    Failed(text)        one sentence: training stopped (a State("error") follows)
    PeakMemory(mb)      the peak resident memory of the loop's process (MB), with each Metrics
    Exited()            the trainer process ends cleanly (the last message on its pipe)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


# ---------------------------------------------------------------- commands (app → loop)
@dataclass(frozen=True)
class Stop:
    def apply(self, control) -> None:
        control.request_stop()


@dataclass(frozen=True)
class Pause:
    def apply(self, control) -> None:
        control.pause()


@dataclass(frozen=True)
class Resume:
    def apply(self, control) -> None:
        control.resume()


@dataclass(frozen=True)
class SetQueue:
    item_ids: tuple[str, ...]

    def apply(self, control) -> None:
        control.set_queue(list(self.item_ids))


@dataclass(frozen=True)
class Wake:
    def apply(self, control) -> None:
        control.wake()


@dataclass(frozen=True)
class Hold:
    seconds: float

    def apply(self, control) -> None:
        control.hold(self.seconds)


Command = Stop | Pause | Resume | SetQueue | Wake | Hold


# ---------------------------------------------------------------- events (loop → app)
@dataclass(frozen=True)
class State:
    state: str


@dataclass(frozen=True)
class Info:
    info: dict[str, Any]


@dataclass(frozen=True)
class Metrics:
    step: int
    model_version: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Predictions:
    predictions: dict[str, Any]
    model_version: int = 0


@dataclass(frozen=True)
class NextItems:
    item_ids: tuple[str, ...]
    propensities: tuple[float, ...] = ()
    order: str = ""
    model_version: int = 0
    pools: tuple[int, ...] = ()  # each pick's unanswered items when chosen (Pick.pool)


@dataclass(frozen=True)
class Drafts:
    drafts: tuple[Any, ...]  # core/data/drafts.Draft, in the order they were drafted
    task: str = ""

    @staticmethod
    def of(drafts) -> list[Drafts]:
        """One message per task for a step's drafts (none: no message)."""
        by_task: dict[str, list] = {}
        for d in drafts:
            by_task.setdefault(d.task, []).append(d)
        return [Drafts(tuple(group), task) for task, group in by_task.items()]


@dataclass(frozen=True)
class Warned:
    text: str


@dataclass(frozen=True)
class Failed:
    text: str


@dataclass(frozen=True)
class PeakMemory:
    mb: float | None


@dataclass(frozen=True)
class Exited:
    pass


Event = (
    State
    | Info
    | Metrics
    | Predictions
    | NextItems
    | Drafts
    | Warned
    | Failed
    | PeakMemory
    | Exited
)


def chart_keys(metrics: dict[str, float], tasks: list[str]) -> dict[str, float]:
    """A step's metrics under the charts' keys: per-task keys fold into the fixed curves when the
    project has one task (``loss/<task>`` duplicates ``loss/total``; ``kl/<task>`` is the KL to
    the starting model; ``eval/accuracy_<task>`` the held-out accuracy). The replay buffer's
    cumulative ``reward/thumbs_up_rate`` is left out: the thumbs-up chart counts the answers
    themselves, one point per answer (``gui/chart_history.py``)."""
    single = tasks[0] if len(tasks) == 1 else None
    out = {}
    for key, value in metrics.items():
        if key == "reward/thumbs_up_rate":
            continue
        if single is not None:
            if key == f"loss/{single}" and "loss/total" in metrics:
                continue
            key = {
                f"kl/{single}": "kl/ref",
                f"eval/accuracy_{single}": "eval/accuracy",
                f"eval/macro_f1_{single}": "eval/macro_f1",
                f"eval/network_accuracy_{single}": "eval/network_accuracy",
            }.get(key, key)
        out[key] = value
    return out
