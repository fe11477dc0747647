"""Evaluation: held-out metrics and off-policy thumbs-up estimates, model against model.

    result = evaluate_project(project)                       # current vs reference (starting)
    result = evaluate_project(project, checkpoint="w.pt")    # a weights file instead of current
    print(format_report(result))     # core/evaluation/report.py; or json.dumps(result)

Models ("candidates"), all scored on the same data:
- ``current``: the project's newest readable checkpoint (the model the GUI would show), or the
  starting model when there is none yet;
- ``reference``: the frozen starting policy kept in every checkpoint (for before/after);
- ``checkpoint``: a user's weights file (``--checkpoint``), read through ``safe_load`` so that a
  pickle carrying code is refused unrun. A project checkpoint (``ckpt-*.safetensors``, with its
  ``.json`` beside it) or a plain policy state dict both work; the weights must fit the project's
  tasks and labels.

Per task, for each candidate:
- ``holdout``: ``metrics.classification_report`` on the labelled items with ``split == "holdout"``
  (greedy label = argmax of the algorithm's greedy probabilities);
  with the class probabilities of ``core.learning.calibration.class_probs`` (the model's temperature, the
  same numbers the panel and ``predict`` show); ``calibration`` says what the ECE was computed on
  and where the temperature came from;
- ``ope``: IPS, SNIPS and doubly-robust estimates (``core.evaluation.ope``) of the thumbs-up rate the
  candidate's *greedy* choice would get, from the live (non-retracted) logged answers **the
  candidate has not trained on** — those logged after its checkpoint's ``last_event_id`` (every
  answer for the starting model; ADR 0011) — with their propensities; ``q_hat`` for DR is the
  candidate's own class probabilities. Fewer than ``ope.MIN_ANSWERS`` such answers (or weights
  leaving almost no effective sample): ``{"n", "reason"}`` — a sentence — instead of estimates.
  Answers an active next-item order chose are re-weighted to a uniform draw of the unanswered
  items by their stored selection probability (``ope.selection_weights``, ADR 0013);
  ``selection_weighted`` counts them.

Which order chose the answers (issue 19): ``order`` (the project's ``[algorithm] next_item``),
``answers_by_order`` (live answers per stored ``selection_order``; ``unknown`` for those without)
and ``order_note``, a sentence on what the prequential figure is a rate over.

Over the whole project, whatever the model: ``prequential`` (``core.evaluation.prequential``), every live
answer scored against the label shown to the expert before the model trained on it, with its
Wilson interval — the measure a project without held-out items has from its first answer.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmrl_desktop.core import metrics
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.evaluation import ope, prequential
from mmrl_desktop.core.evaluation.report import format_report  # noqa: F401  (the CLI's import)
from mmrl_desktop.core.learning.calibration import class_probs, describe, temperatures_from_meta
from mmrl_desktop.core.tasks import TaskState

BATCH = 256


@dataclass
class Candidate:
    name: str
    source: str
    algorithm: object  # an Algorithm whose greedy() gives [B, K] probabilities per task
    featurizer: object
    info: dict
    trained_through: int | None = 0  # last event id it trained on (None: not known)
    temperatures: dict | None = None  # per task (core/learning/calibration.py); None: 1
    fitted_on: dict | None = None  # prequential answers each temperature was fitted on


def open_trainer(project: Project, device: str = "cpu"):
    """A read-only Trainer on the project's newest checkpoint (no metrics, no checkpoints)."""
    from mmrl_desktop.core.learning.trainer import Trainer

    trainer = Trainer(project, device=device, queue_size=0, write_metrics=False, checkpoints=False)
    try:
        trainer.info()  # builds: loads the newest checkpoint whose labels/algorithm still fit
        if trainer.incompatible_checkpoint:  # the trainer fell back to fresh weights
            raise RuntimeError(trainer.incompatible_checkpoint)
    except (RuntimeError, KeyError, ValueError) as err:  # e.g. a checkpoint of an older model
        store = getattr(trainer, "store", None)
        if store is not None:
            store.close()
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise UserError(
            f"the model of {project.root} cannot be loaded: its newest checkpoint does not fit "
            f"this version's model ({first})."
        ) from None
    return trainer


def current_source(trainer) -> str:
    resumed = getattr(trainer, "resumed_from", None)
    if not resumed:
        from mmrl_desktop.core.learning.checkpoints import list_checkpoints

        on_disk = list_checkpoints(trainer.project.checkpoints_dir)
        why = "no usable checkpoint" if on_disk else "no checkpoint yet"
        return f"starting model ({why})"
    return str(Path(resumed).relative_to(trainer.project.root))


def _with_policy(algorithm, policy):
    clone = copy.copy(algorithm)  # greedy() only reads the shown model, device and options
    clone.policy, clone.average, clone.held = policy, None, None  # ``policy`` is shown
    return clone


def policy_state_from(weights: dict) -> dict:
    """The policy's tensors from a weights file: a project checkpoint's ``/average/…`` keys (the
    model it showed: ``TrainConfig.weight_average``) or ``/policy/…`` keys, a ``policy.``-prefixed
    dict, or a bare state dict."""
    for prefix in ("/average/", "/policy/", "policy/", "policy."):
        sub = {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
        if sub:
            return sub
    return dict(weights)


def load_candidate_file(path: str | Path, trainer, name: str = "checkpoint") -> Candidate:
    """A weights file as a candidate; never runs code from it (``safe_load``)."""
    import json

    from mmrl_desktop.core.config import ModelConfig
    from mmrl_desktop.core.data.safe_load import load_weights
    from mmrl_desktop.core.learning.ckpt_files import labels_cover
    from mmrl_desktop.core.learning.growth import grow_module, row_maps
    from mmrl_desktop.core.learning.model.featurize import Featurizer
    from mmrl_desktop.core.learning.model.policy import build_policy

    path = Path(path)
    state = policy_state_from(load_weights(path))
    policy = copy.deepcopy(trainer.algorithm.policy)
    featurizer = trainer.featurizer
    info: dict = {}
    trained_through: int | None = None  # a bare weights file: which answers it saw is not known
    temps: dict = {}
    fitted: dict = {}
    meta_path = path.with_suffix(".json")
    if path.suffix == ".safetensors" and meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        if isinstance(meta, dict) and "model_config" in meta:
            old = meta.get("labels")
            if old and not labels_cover(trainer.labels, old):
                raise UserError(f"{path} was trained for other tasks or labels than this project.")
            cfg = ModelConfig.saved(meta["model_config"])
            if cfg.to_dict() != trainer.model_config.to_dict():
                num = {t: len(v) for t, v in trainer.labels.items()}
                policy = build_policy(cfg, num, trainer.project.root).to(trainer.device)
                featurizer = Featurizer(cfg, trainer.config.cache_mb, trainer.project.root)
            if old and old != trainer.labels:  # fewer labels then: the heads grow (growth.py)
                state = grow_module(state, policy.state_dict(), row_maps(old, trainer.labels))
            info = {k: meta.get(k) for k in ("step", "model_version", "answers_seen") if k in meta}
            if "last_event_id" in meta:
                trained_through = int(meta["last_event_id"])
            temps, fitted = temperatures_from_meta(meta)
    try:
        policy.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise UserError(f"{path} does not fit this project's model ({detail[:160]}).") from None
    policy.eval()
    algo = _with_policy(trainer.algorithm, policy)
    return Candidate(name, str(path), algo, featurizer, info, trained_through, temps, fitted)


def candidates_for(trainer, checkpoint: str | Path | None = None) -> list[Candidate]:
    out = []
    if checkpoint is not None:
        out.append(load_candidate_file(checkpoint, trainer))
    else:
        out.append(
            Candidate(
                "current",
                current_source(trainer),
                trainer.algorithm,
                trainer.featurizer,
                {"step": trainer.updates, "model_version": trainer.model_version},
                trainer.trained_event_id,
                dict(trainer.calibrator.temperatures),
                dict(trainer.calibrator.fitted_on),
            )
        )
    ref = _with_policy(trainer.algorithm, trainer.algorithm.reference)
    out.append(Candidate("reference", "starting model", ref, trainer.featurizer, {"step": 0}))
    return out


def model_summary(cand: Candidate, trainer) -> dict:
    """The contract's ``model``: the evaluated model's version, step and when its file was
    written (``model_info.written_utc``; None for the starting model, which no file holds)."""
    from mmrl_desktop.core.evaluation.model_info import modalities, written_utc

    path = getattr(trainer, "resumed_from", None) if cand.name == "current" else cand.source
    return {
        "version": cand.info.get("model_version"),
        "step": cand.info.get("step"),
        "written": written_utc(path),
        **modalities(cand.algorithm),  # those it reads and predicts from (ADR 0039)
    }


def greedy_probs(cand: Candidate, items: list[Item], steps: _Steps | None = None) -> dict:
    """Class probabilities per task, ``[N, K]`` float64: ``calibration.class_probs``, the one
    source the panel and ``predict`` use too. ``steps`` counts the items scored."""
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(items), BATCH):
        batch = items[start : start + BATCH]
        inputs = cand.featurizer.batch(batch)
        for t, p in class_probs(cand.algorithm, inputs, cand.temperatures).items():
            parts.setdefault(t, []).append(p.double().numpy())
        if steps is not None:
            steps.advance(len(batch))
    return {t: np.concatenate(v) for t, v in parts.items()}


class _Steps:
    """Progress of ``evaluate_project`` in items scored; a cancel raises ``tasks.Cancelled``."""

    def __init__(self, state: TaskState, total: int):
        self.state, self.total, self.done = state, max(1, total), 0
        state.progress(0, self.total)

    def advance(self, n: int) -> None:
        self.done += n
        self.state.progress(min(self.done, self.total), self.total)
        self.state.check()


def _logged(store, labels: dict[str, list[str]]) -> dict[str, dict]:
    """Live answers per task: item ids, shown label index, propensity, reward."""
    keys = ("items", "actions", "prop", "reward", "event", "sel_p", "sel_m")
    out = {t: {k: [] for k in keys} for t in labels}
    index = {t: {lab: i for i, lab in enumerate(ls)} for t, ls in labels.items()}
    for ev in store.active_feedback():
        idx = index.get(ev.task)
        if idx is None or ev.shown_label not in idx or not ev.propensity or ev.reward is None:
            continue
        d = out[ev.task]
        d["items"].append(ev.item_id)
        d["actions"].append(idx[ev.shown_label])
        d["prop"].append(float(ev.propensity))
        d["reward"].append(int(ev.reward))
        d["event"].append(int(ev.event_id))
        d["sel_p"].append(ev.selection_probability)
        d["sel_m"].append(ev.selection_pool)
    return out


def answers_by_order(events) -> dict[str, int]:
    """Live answers per ``selection_order`` (``unknown``: not stored)."""
    counts: dict[str, int] = {}
    for ev in events:
        key = ev.selection_order or "unknown"
        counts[key] = counts.get(key, 0) + 1
    return counts


def order_note(order: str, by_order: dict[str, int]) -> str:
    """One sentence: what the answers-based figures are rates over."""
    chosen = sum(n for o, n in by_order.items() if o not in ("shuffle", "unknown"))
    total = sum(by_order.values())
    if not chosen:
        return (
            f"items asked in the queue order ({order!r} now): the answers are a random sample "
            "of the pool"
        )
    return (
        f"{chosen} of {total} answers were on items chosen by the model (not a random sample): "
        "the prequential figure is about the chosen items; the off-policy estimates re-weight "
        "them by their selection probability; the held-out figures stay a random sample"
    )


def evaluate_project(
    project: Project,
    checkpoint: str | Path | None = None,
    *,
    device: str = "cpu",
    bootstrap: int = 0,
    seed: int = 0,
    n_bins: int = metrics.DEFAULT_BINS,
    state: TaskState | None = None,
) -> dict:
    """Side-by-side hold-out metrics and OPE estimates (JSON-ready dict). ``state``
    (``core/tasks.py``) hears the progress in items scored; its ``cancel()`` stops the run
    between batches with ``tasks.Cancelled``."""
    if checkpoint is not None:  # refuse a bad file before building anything
        from mmrl_desktop.core.data.safe_load import load_weights

        load_weights(checkpoint)
    t0 = time.perf_counter()
    trainer = open_trainer(project, device)
    try:
        cands = candidates_for(trainer, checkpoint)
        store = trainer.store
        fz = trainer.featurizer  # items whose files cannot be read are left out, and named
        labelled = [it for it in store.items(split="holdout") if it.labels]
        holdout = fz.readable(labelled)
        logged = _logged(store, trainer.labels)
        if not holdout and not any(d["items"] for d in logged.values()):
            why = "no labelled hold-out items"
            if labelled:  # there are some, but none reads: say why (a moved folder, most often)
                reason = fz.unreadable.get(labelled[0].item_id, "")
                why = f"none of its {len(labelled)} held-out items can be read ({reason})"
            raise UserError(
                f"{project.root} has nothing to evaluate on: {why} and no feedback yet."
            )
        log_list = fz.readable(_logged_items(store, logged))
        log_pos = {it.item_id: i for i, it in enumerate(log_list)}
        steps = _Steps(state or TaskState(), len(cands) * (len(holdout) + len(log_list)))
        hold_probs = {c.name: greedy_probs(c, holdout, steps) for c in cands} if holdout else {}
        log_probs = {c.name: greedy_probs(c, log_list, steps) for c in cands} if log_list else {}

        tasks: dict[str, dict] = {}
        for t, labels in trainer.labels.items():
            entry = _holdout_entry(t, labels, cands, holdout, hold_probs, n_bins)
            _add_ope(entry, t, cands, logged[t], log_pos, log_probs, (bootstrap, seed))
            tasks[t] = entry
        live = store.active_feedback()
        by_order = answers_by_order(live)
        order = getattr(trainer.config, "next_item", "shuffle")
        return {
            "project": str(project.root),
            "algorithm": trainer.config.algorithm,
            "order": order,  # which item next (issue 19, ADR 0013)
            "answers_by_order": by_order,
            "order_note": order_note(order, by_order),
            "device": str(trainer.device),
            "model": model_summary(cands[0], trainer),  # what the figures are about
            "models": [{"name": c.name, "source": c.source, **c.info} for c in cands],
            "tasks": tasks,
            # every live answer against the label shown before training (core/evaluation/prequential.py)
            "prequential": prequential.summary(live, trainer.labels),
            "ope_note": (
                "thumbs-up rate of each model's greedy label, estimated from the logged answers "
                "it has not trained on (those after its checkpoint; reward +1 → 1, −1 → 0)"
            ),
            "unreadable_items": fz.unreadable_report(),
            "checkpoint_warnings": list(trainer.checkpoint_warnings),  # sentences, stderr too
            "seconds": round(time.perf_counter() - t0, 3),
        }
    finally:
        trainer.close(checkpoint=False)


def _logged_items(store, logged: dict) -> list[Item]:
    """The items the logged answers are about, each once, in order (items gone are skipped)."""
    items: dict[str, Item] = {}
    for d in logged.values():
        for iid in d["items"]:
            if iid not in items:
                try:
                    items[iid] = store.item(iid)
                except KeyError:
                    pass
    return list(items.values())


def _holdout_entry(t: str, labels, cands, holdout, hold_probs, n_bins: int) -> dict:
    """A task's entry with each candidate's held-out metrics and calibration (``ope`` empty)."""
    idx = {lab: i for i, lab in enumerate(labels)}
    rows = [i for i, it in enumerate(holdout) if it.labels.get(t) in idx]
    y = np.array([idx[holdout[i].labels[t]] for i in rows], dtype=np.int64)
    entry: dict = {
        "labels": labels,
        "holdout_items": len(rows),
        "holdout": {},
        "ope": {},
        "calibration": {},
    }
    for c in cands:
        probs = hold_probs[c.name][t][rows] if rows else np.zeros((0, len(labels)))
        rep = metrics.classification_report(y, probs, labels, n_bins)
        entry["holdout"][c.name] = rep
        entry["calibration"][c.name] = calibration_entry(c, t, len(rows), rep.get("ece"))
    return entry


def _add_ope(entry: dict, t: str, cands, d: dict, log_pos, log_probs, bootstrap_seed) -> None:
    """The task's logged answers (count, thumbs-up rate) and each candidate's OPE estimates."""
    bootstrap, seed = bootstrap_seed
    keep = [k for k, iid in enumerate(d["items"]) if iid in log_pos]
    entry["feedback_events"] = len(keep)
    r = np.array([d["reward"][k] for k in keep], dtype=np.int64)
    entry["logged_thumbs_up_rate"] = float((r == 1).mean()) if len(r) else None
    for c in cands:
        if keep:
            rows_c = [log_pos[d["items"][k]] for k in keep]
            probs = log_probs[c.name][t][rows_c]
            entry["ope"][c.name] = ope_entry(c, d, keep, probs, bootstrap, seed)


def ope_entry(cand: Candidate, d: dict, keep: list[int], probs, bootstrap: int, seed: int) -> dict:
    """OPE of ``cand`` on the logged answers (rows ``keep`` of ``d``, ``probs`` its class
    probabilities for them) it has not trained on; a sentence instead when they are too few."""
    after = cand.trained_through
    if after is None:
        return {
            "n": 0,
            "reason": "not known which answers this weights file was trained on (no checkpoint "
            "metadata): no off-policy estimate",
        }
    sel = [j for j, k in enumerate(keep) if d["event"][k] > after]
    where = "after this model's checkpoint" if after > 0 else "logged"
    out: dict = {"n": len(sel), "after_event_id": after}
    if not sel:
        out["reason"] = f"not enough answers (n = 0 {where}; needs ≥ {ope.MIN_ANSWERS})"
        return out
    pick = [keep[j] for j in sel]
    a = np.array([d["actions"][k] for k in pick], dtype=np.int64)
    p = np.array([d["prop"][k] for k in pick], dtype=np.float64)
    r = np.array([d["reward"][k] for k in pick], dtype=np.int64)
    q = probs[sel]
    greedy = np.eye(q.shape[1])[q.argmax(axis=1)]
    v = ope.selection_weights([d["sel_p"][k] for k in pick], [d["sel_m"][k] for k in pick])
    weighted = int((np.abs(v - 1.0) > 1e-9).sum())
    kw = {"bootstrap": bootstrap, "seed": seed, "item_weights": v if weighted else None}
    est = ope.estimate_all(a, p, r, greedy, q, **kw)
    out["logged_thumbs_up_rate"] = float((r == 1).mean())
    out["selection_weighted"] = weighted
    weights = ope.weight_check(a, p, greedy, kw["item_weights"])
    out["mean_weight"] = round(weights[0], 4)
    why = ope.not_reportable(len(sel), est["ips"]["effective_n"], weights)
    if why is not None:
        out["reason"] = why.replace(f"(n = {len(sel)};", f"(n = {len(sel)} {where};")
        if weighted and "effective n" in why:  # the chosen answers weigh little (ADR 0013)
            out["reason"] += (
                f"; {weighted} answers on items the model chose count little once re-weighted "
                "to a random sample"
            )
        return out
    out.update(est)
    return out


def calibration_entry(cand: Candidate, task: str, n_holdout: int, ece) -> dict:
    """Where the ECE and the temperature of ``cand``'s probabilities came from, in one line."""
    temp = float((cand.temperatures or {}).get(task, 1.0))
    fitted = int((cand.fitted_on or {}).get(task, 0))
    how = describe(temp, fitted)
    if n_holdout and ece is not None:
        note = f"ECE {ece:.2f} on {n_holdout} held-out items, {how}"
    else:
        note = f"ECE not computed: no labelled held-out items; {how}"
    return {"temperature": temp, "fitted_on": fitted, "ece_items": n_holdout, "note": note}
