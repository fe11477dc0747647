"""Issue 17 diagnosis (an experiment, not a test): what limits the default learner, thumbs only,
on an own-folder set. Runs the app's bench in-process (``run_bench``, the same code path as
``mmrl-desktop bench``) with extra default-algorithm options, and at each point records, on the
pool's items (stream items; their true labels come from the folder), how right each candidate
view's graph posterior and the network are, on answered and unanswered items, which view is
chosen, and how right the weighted pseudo-labels are.

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.own_folders.thumbs_diag glyphs 0 \
        '{"graph_views": "pixels,gradients,embedding"}' [POINTS] [OUT.jsonl] [ALGORITHM]

ALGORITHM: ``default`` (thumbs only) or ``supervised`` (the true label on every answer; its
options as the third argument, e.g. ``{"pseudo_weight": 1}`` for its pool).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from benchmarks.own_folders import datasets
from mmrl_desktop.core.data.project import DEFAULT_TASK
from mmrl_desktop.core.learning import trainer as trainer_mod
from mmrl_desktop.core.learning.graph_answers import first_label_hits, paired_z
from mmrl_desktop.core.learning.graph_views import _tempered
from mmrl_desktop.core.tools import bench

RECORDS: list[dict] = []


def _truth(alg) -> tuple[np.ndarray, np.ndarray]:
    """True label index of every pool item and whether it has an answer."""
    labels = alg._diag_labels
    y = np.array([labels.index(i.split("/")[0]) for i in alg.pool_ids])
    return y, alg._diag_answered[: len(y)]


def snapshot(tr, t: int) -> dict:
    alg = tr.algorithm
    gv = alg.views
    y, answered = _truth(alg)
    out: dict = {"answers": t, "chosen": gv.chosen, "net_weight": gv.net_weight}
    out["pseudo_gate"] = round(gv.pseudo_gate, 3)
    out["first_label_right_estimate"] = round(gv.precision, 3)  # with pseudo_precision > 0
    un = ~answered
    for name, q in list(gv.q.items()) + [("network", gv.net)]:
        p = q.get(DEFAULT_TASK)
        if p is None or len(p) != len(y):
            continue
        hit = p.argmax(1) == y
        out[f"acc_{name}"] = round(float(hit[un].mean()), 3) if un.any() else None
        out[f"acc_{name}_answered"] = round(float(hit[answered].mean()), 3)
        out[f"score_{name}"] = round(float(np.mean(gv.scores.get(name, [np.nan]))), 3)
        if name in gv.label_scores:
            out[f"label_score_{name}"] = round(float(np.mean(gv.label_scores[name])), 3)
        if name in gv.logs and gv.candidates():
            base = gv.candidates()[0]
            e = gv.o.answer_noise
            out[f"z_{name}"] = round(paired_z(gv.scores[name], gv.scores[base]), 2)
            if name in gv.label_scores:  # a view (the network has no labels' score)
                lab = paired_z(gv.label_scores[name], gv.label_scores[base])
                out[f"zlab_{name}"] = round(lab, 2)
            mine, theirs = _tempered(list(gv.logs[name]), e), _tempered(list(gv.logs[base]), e)
            out[f"ztemp_{name}"] = round(paired_z(deque(mine[2]), deque(theirs[2])), 2)
            out[f"tau_{name}"] = round(mine[0], 2)
            out[f"conf_{name}"] = round(float(p[un].max(1).mean()), 3) if un.any() else None
    out.update(first_label_estimates(gv))
    tgt = alg.targets.get(DEFAULT_TASK)
    if tgt is not None:
        w = alg.target_weight[DEFAULT_TASK].numpy()
        hit = tgt.numpy().argmax(1) == y
        out["pseudo_acc_weighted"] = round(float((w * hit).sum() / max(w.sum(), 1e-9)), 3)
        out["pseudo_weight_mean"] = round(float(w.mean()), 3)
        out["pseudo_acc"] = round(float(hit.mean()), 3)
    rows = tr.buffer.rows
    out["ups"] = sum(r.reward > 0 for r in rows)
    out["labels_confirmed"] = len({r.shown for r in rows if r.reward > 0})
    return out


def first_label_estimates(gv) -> dict:
    """How often the network's first label and the acted-on posterior's are right, estimated
    from the same recent answers neither had seen (``first_label_hits``: a 👍 weighted by 1 / its
    propensity), and the network's advantage in paired standard errors."""
    net = {r.event_id: (row, r) for row, r in gv.logs.get("network", ())}
    both = [(net[r.event_id][0], row, r) for row, r in gv.post_log if r.event_id in net]
    if len(both) < 2:
        return {}
    rows = [r for _, _, r in both]
    mine = first_label_hits(np.array([int(np.argmax(a)) for a, _, _ in both]), rows)
    theirs = first_label_hits(np.array([int(np.argmax(b)) for _, b, _ in both]), rows)
    return {"est_hit_network": round(float(mine.mean()), 3),
            "est_hit_posterior": round(float(theirs.mean()), 3),
            "z_network_over_posterior": round(paired_z(mine, theirs), 2),
            "est_answers": len(both)}  # fmt: skip


class DiagTrainer(trainer_mod.Trainer):
    points: tuple[int, ...] = ()

    def greedy_labels(self, items):
        """The bench's held-out figure (the network), and beside it how right the vote of each
        held-out item's pool neighbours in the graph's view is (what ``act`` shows for an item
        outside the pool), and their mean; drawn with a generator of its own, so the run is
        unchanged."""
        res = super().greedy_labels(items)
        alg = self.algorithm
        if not getattr(alg, "fitted", False) or not hasattr(alg, "views"):
            return res
        labels = list(self.labels[DEFAULT_TASK])
        y = np.array([labels.index(it.labels[DEFAULT_TASK]) for it in items])
        net, vote = [], []
        gen = torch.Generator().manual_seed(0)
        for s in range(0, len(items), 256):
            inputs = self.featurizer.batch(items[s : s + 256])
            net.append(alg.greedy(inputs)[DEFAULT_TASK].numpy())
            vote.append(alg.act(inputs, gen)[DEFAULT_TASK].probs.numpy())
        p_net, p_vote = np.concatenate(net), np.concatenate(vote)
        rec = {"answers": len(self.buffer.rows), "heldout_network": _acc(p_net, y)}
        rec["heldout_vote"] = _acc(p_vote, y)
        rec["heldout_mean"] = _acc(p_net + p_vote, y)
        rec["vote_view"] = alg.views.chosen
        RECORDS.append(rec)
        print(json.dumps(rec), file=sys.stderr, flush=True)
        return res

    def train_pending(self, *a, **kw):
        res = super().train_pending(*a, **kw)
        alg = self.algorithm
        if not hasattr(alg, "views"):
            return res
        if not hasattr(alg, "_diag_labels"):
            alg._diag_labels = list(self.labels[DEFAULT_TASK])
        n = len(self.buffer.rows)
        ans = np.zeros(len(alg.pool_ids) + 1, bool)
        for r in self.buffer.rows:
            i = alg.pool_index.get(r.item_id)
            if i is not None:
                ans[i] = True
        alg._diag_answered = ans
        if n in self.points:
            rec = snapshot(self, n)
            RECORDS.append(rec)
            print(json.dumps(rec), file=sys.stderr, flush=True)
        return res


def _acc(p: np.ndarray, y: np.ndarray) -> float:
    return round(float((p.argmax(1) == y).mean()), 4)


def main() -> None:
    name, seed = sys.argv[1], int(sys.argv[2])
    opts = json.loads(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else {}
    points = [int(p) for p in (sys.argv[4] if len(sys.argv) > 4 else "30,60,150,300").split(",")]
    out_path = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
    algorithm = sys.argv[6] if len(sys.argv) > 6 else "default"
    torch.set_num_threads(1)
    if name == "digits32":  # the demo's kind of digits: 8×8 drawn at 32 px
        from benchmarks.own_folders.digits32_first_view import folder as digits32

        ds, folder = None, digits32()
    else:
        ds = datasets.SETS[name]
        folder, _ = datasets.ensure(name)
    settings: dict = {"options": opts} if opts else {}
    if ds is not None and ds.orientation_free:
        settings["orientation_free"] = True
    DiagTrainer.points = tuple(points)
    bench.Trainer = DiagTrainer
    t0 = time.perf_counter()
    res = bench.run_bench(str(folder), algorithm, points, seed=seed, algorithm_settings=settings)
    curve = {c["feedback"]: c["accuracy"] for c in res["curve"]}
    line = {"set": name, "seed": seed, "algorithm": algorithm, "options": opts, "curve": curve,
            "seconds": round(time.perf_counter() - t0, 1), "diag": RECORDS}  # fmt: skip
    print(json.dumps({"set": name, "seed": seed, "options": opts, "curve": curve,
                      "seconds": line["seconds"]}))  # fmt: skip
    if out_path:
        with open(out_path, "a") as fh:
            fh.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
