"""Each learning algorithm's own knobs (``TrainConfig.options``), with a help sentence per field.

Plain dataclasses, like ``TrainConfig``: every field carries ``metadata["help"]``, which the
Settings dialog shows as its tooltip and grey line. They live here, not in the algorithm modules,
because this module imports no torch: the window process reads and checks them without loading
torch (it loads torch only for an evaluation or an export). Each algorithm module re-exports its
own (``default.DefaultOptions`` …) and names it as its ``Options``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from mmrl_desktop.core.errors import UserError


def _opt(default: Any, text: str) -> Any:
    return field(default=default, metadata={"help": text})


@dataclass
class NoOptions:
    """An algorithm without knobs of its own."""


GRAPH_VIEWS = (
    "pixels",
    "gradients",
    "hog",
    "edges",
    "logmel",
    "cepstra",
    "ngrams",
    "embedding",
    "pretrained",
)
VIEW_CHOICES = ("mixture", "switch", "auto")
ACT_RULES = ("standardised", "calibrated")


@dataclass
class DefaultOptions:
    """default: the pool graph posterior (``core/learning/algorithms/default.py``)."""

    graph_k: int = _opt(5, "neighbours per item in the pool graph")
    graph_beta: float = _opt(3.0, "coupling of the graph posterior (mean-field Potts model)")
    graph_iters: int = _opt(10, "mean-field sweeps per refresh (warm-started)")
    optimism: float = _opt(
        2.0,
        "acting bonus, in posterior std units, of c / sqrt(1 + confirmed answers of c) "
        "(2 since ADR 0035; 1 before)",
    )
    act_kappa: float = _opt(
        5.0, "acting: softmax(κ · standardised log-posterior); larger is greedier"
    )
    act_rule: str = _opt(
        "standardised",
        "acting and pseudo-labels: standardised (softmax(act_kappa · (standardised "
        "log-posterior + bonus)), pseudo-labels softmax(pseudo_kappa · standardised "
        "log-posterior)) or calibrated (posterior sampling from q^τ · exp(bonus), pseudo-labels "
        "q^τ; τ fitted on the answers the posterior had not seen)",
    )
    answer_noise: float = _opt(0.05, "probability that a thumb is wrong, in the graph posterior")
    pseudo_weight: float = _opt(1.0, "weight of the pool pseudo-label cross-entropy")
    pseudo_kappa: float = _opt(10.0, "sharpness of the pseudo-labels")
    pseudo_until: int = _opt(
        -1,
        "the pool's pseudo-labels only while the answers are fewer than this; 0 = always; "
        "−1 = the algorithm's choice (ADR 0043): while fewer than 8 per label where every "
        "modality is a picture above 8 px or a sound, read by the built-in encoders, and a "
        "task has 8 labels or more (there a graph posterior right on a third of the pool "
        "speeds the network early and holds it back later), always otherwise",
    )
    pseudo_fixed_until: int = _opt(
        -1,
        "the pool's pseudo-labels stop from this many answers on while the graph is on a fixed "
        "view (not the policy's own embedding): a fixed view's posterior can hold back a "
        "network that has learnt more than it shows; 0 = off; −1 = the algorithm's choice "
        "(ADR 0044): 150 where every modality is a picture above 8 px or a sound, read by the "
        "built-in encoders, and the tasks have fewer than 8 labels, off otherwise",
    )
    pool_augment: bool = _opt(
        False,
        "augment the pool items the pseudo-labels train on as the replayed answers are "
        "(without it the network can learn the pool's pictures by heart, not what they show)",
    )
    pseudo_quantile: float = _opt(
        0.5, "items with evidence above this quantile get the full pseudo-label weight"
    )
    input_views: str = _opt(
        "0.99",
        "share of the raw pixels in the graph's pixels view (mixed with the policy's embedding); "
        "only the first of a comma-separated list is used",
    )
    view_min_labels: int = _opt(
        30,
        "answers scored before the graph's view is chosen among graph_views and the network's "
        "weight set (each scored by a posterior that had not seen it)",
    )
    graph_views: str = _opt(
        "pixels,gradients,hog,cepstra,logmel,ngrams,embedding",
        "candidate views of the pool graph, comma-separated (pixels, gradients, hog, edges: hog "
        "and gradients side by side, cepstra: a sound's cepstra over time, logmel, ngrams, "
        "embedding: the policy's own embedding, not for images of 8 px or less): see "
        "view_choice",
    )
    large_first: str = _opt(
        "edges",
        "the view the graph starts on for images over 8 px, a candidate there even when not in "
        "graph_views (edges: hog and gradients side by side, which lifted the own-folder glyphs, "
        "shapes and textures, docs/benchmarks.md §5za; the switch rarely leaves its first view "
        "on many-class sets); tiny images, sounds and texts keep graph_views as they are; "
        "empty = the first of graph_views everywhere",
    )
    aligned_overlap: float = _opt(
        0.0,
        "images over 8 px whose pixels and edges views share at least this share of each "
        "item's graph_k nearest neighbours (aligned images, as scanned digits: the pixels mean "
        "what the edges do) keep graph_views' order instead of starting on large_first; "
        "0 = off, the default: on digits drawn at 32 px the pixels first lost .16 at 60 "
        "answers on unseen seeds (docs/benchmarks.md §5zc)",
    )
    view_choice: str = _opt(
        "switch",
        "switch: the first of graph_views until another predicted the answers it had not seen "
        "better by view_z standard errors; mixture: every view's posterior weighted by "
        "exp(the sum of its scores on the answers it had not seen), from the first answer; "
        "auto: mixture for images over 8 px and sounds, switch otherwise",
    )
    pseudo_gate: bool = _opt(
        True,
        "weigh the pool's pseudo-labels by how far the posterior predicted the answers it had "
        "not seen better than a uniform guess (full weight at view_z standard errors)",
    )
    gate_baseline: str = _opt(
        "uniform",
        "what the pseudo-label gate measures the posterior against: uniform (a 1/K guess of "
        "every label) or rate (the same thumbs-up probability for every answer, the recent "
        "thumbs-up share: a posterior that only foretells the thumbs-down on labels shown to "
        "explore does not pass); with view_score calibrated (the default)",
    )
    gate_open_until: int = _opt(
        0,
        "while the answers are fewer than this, the pseudo-labels keep their full weight "
        "whatever the gate says (early the answers are too few to judge the posterior, and "
        "the network knows no more than it); 0 = the gate from the first answer",
    )
    pseudo_precision: float = _opt(
        0.0,
        "weigh the pool's pseudo-labels also by how often the posterior's first label is "
        "right, estimated on the answers it had not seen (a correction naming it, a thumbs-up "
        "on it weighted by 1 / its propensity): full weight at this share, none at 1/K; "
        "0 = off",
    )
    pseudo_recent: int = _opt(
        0,
        "with pseudo_precision: estimate how often the first label is right on only the "
        "latest this many answers (the posterior improves as answers come; the whole "
        "view_window lags it); 0 = the whole view_window",
    )
    pseudo_agree: bool = _opt(
        False,
        "pseudo-labels only on the pool items where the graph's top label is the network's too "
        "(co-training: two views that agree are right more often than either)",
    )
    new_item_vote: bool = _opt(
        False,
        "predict an item outside the pool (a held-out case) from the network and its pool "
        "neighbours' vote, each raised to the power that foretold the answers they had not "
        "seen best; off: the network alone (what an export carries)",
    )
    explore_network: float = _opt(
        0.0,
        "share of the acting distribution given to the network's first label on the pool items "
        "where it is not the graph posterior's (0 = off): answers on the network's own choices, "
        "without which new_item_vote cannot tell when the network has overtaken the vote",
    )
    self_train: float = _opt(
        0.0,
        "self-training (FixMatch's rule, with the replay's augmentation as its strong view): a "
        "pool item the network gives a label it has not been refused at least this probability "
        "(un-augmented, as the pool was last embedded) is taught that label instead of the "
        "graph's pseudo-label; 0 = off",
    )
    new_item_rule: str = _opt(
        "accuracy",
        "with new_item_vote, how the network and the vote are weighed: accuracy (the vote, "
        "or the two at equal powers, replaces the network only where its first label was right "
        "on more of the answers they had not seen, by view_z standard errors; a thumbs-up "
        "counts 1 / the propensity of the label shown) or likelihood (the powers under which "
        "those answers were likeliest)",
    )
    pseudo_confidence: bool = _opt(
        False,
        "weigh each pool item's pseudo-label by its calibrated confidence instead of the "
        "spread of its log-posterior: the top label's probability under q^τ (τ fitted on the "
        "answers the posterior had not seen) above 1/K, full weight from pseudo_quantile's "
        "quantile of the pool up",
    )
    view_score: str = _opt(
        "calibrated",
        "how a view's or the network's prediction is scored on answers it had not seen: "
        "calibrated (the answers' log-probability under the view's posterior raised to the "
        "power that fits them best: its ranking, not its confidence, counts), loglik (the "
        "answer's log-probability) or brier (squared error of the predicted thumb, bounded)",
    )
    switch_score: str = _opt(
        "answers",
        "what view_choice switch compares the views on: answers (the log-probability of every "
        "answer), calibrated (the same, each view's posterior raised to the power that fits "
        "those answers best) or labels (the log-probability each view gave the labels the "
        "answers revealed: a correction's label, a thumbs-up's shown label weighted by 1 / its "
        "propensity; a thumbs-down counts for no view)",
    )
    switch_from: str = _opt(
        "first",
        "what a view must beat by view_z standard errors for the switch to move the graph to "
        "it: first (the first of graph_views, which the graph goes back to otherwise) or current "
        "(the view the graph is on now, which it keeps otherwise)",
    )
    view_window: int = _opt(150, "the views and the network are scored on this many recent answers")
    view_z: float = _opt(
        2.0,
        "a view replaces the first of graph_views (the network enters the posterior) only when "
        "it predicted the same answers better by more than this many standard errors",
    )
    net_temper: float = _opt(
        0.0,
        "the network's weight in the posterior: net_temper × (its standard errors of advantage "
        "over the graph − view_z), clipped to [0, 1]; 0 = the graph alone",
    )
    net_after_pseudo: float = _opt(
        0.0,
        "once the pool's pseudo-labels have stopped (pseudo_until), the network's weight in the "
        "posterior the labels shown are drawn from is at least this (0–1): the graph no longer "
        "teaches the network, and the network, not the graph, picks what to ask; 0 = off",
    )
    net_score: str = _opt(
        "answers",
        "what the network's weight (net_temper) compares it with the graph's view on: answers "
        "(the log-probability of every answer, the network's raw probabilities) or calibrated "
        "(both at the power that fits those answers best; the network then enters the "
        "posterior at its fitted power)",
    )
    pool_size: int = _opt(4096, "at most this many pool items (a seeded sample) are kept")
    embed_every: int = _opt(
        5, "re-embed the pool and rebuild the graph every N answers (after embed_warmup)"
    )
    embed_warmup: int = _opt(50, "re-embed at every answer during the first N answers")
    correction_weight: float = _opt(1.0, "weight of a correction's cross-entropy")
    down_weight: float = _opt(1.0, "weight of a thumbs-down's −log(1 − p)")
    suspect_ratio: float = _opt(
        3.0,
        "set a thumb aside as a likely mis-click when its neighbours' mean posterior puts the "
        "thumbed-down label first (thumbs-up: another label first), this many times above the "
        "runner-up (the thumbed-up label); 0 = never",
    )

    def validate(self) -> None:
        if self.graph_k < 1 or self.graph_iters < 1 or self.pool_size < 2:
            raise UserError("default: graph_k ≥ 1, graph_iters ≥ 1 and pool_size ≥ 2.")
        try:
            views = [float(v) for v in self.input_views.split(",")]
        except ValueError:
            views = []
        if not views or not all(0.0 <= v < 1.0 for v in views):
            raise UserError("default: input_views is a comma-separated list of shares in [0, 1).")
        names = [v.strip() for v in self.graph_views.split(",") if v.strip()]
        if not names or not set(names) <= set(GRAPH_VIEWS):
            raise UserError(
                f"default: graph_views is a comma-separated list of {', '.join(GRAPH_VIEWS)}."
            )
        if not 0.0 <= self.aligned_overlap <= 1.0:
            raise UserError("default: aligned_overlap is a share in [0, 1] (0 = off).")
        if self.large_first and self.large_first not in GRAPH_VIEWS:
            raise UserError(f"default: large_first is empty or one of {', '.join(GRAPH_VIEWS)}.")
        if self.act_rule not in ACT_RULES:
            raise UserError(f"default: act_rule is {' or '.join(ACT_RULES)}.")
        if self.view_choice not in VIEW_CHOICES:
            raise UserError(f"default: view_choice is {', '.join(VIEW_CHOICES[:-1])} or auto.")
        if self.gate_baseline not in ("uniform", "rate"):
            raise UserError("default: gate_baseline is uniform or rate.")
        if self.view_score not in ("brier", "loglik", "calibrated"):
            raise UserError("default: view_score is calibrated, loglik or brier.")
        if self.switch_score not in ("answers", "calibrated", "labels"):
            raise UserError("default: switch_score is answers, calibrated or labels.")
        if self.net_score not in ("answers", "calibrated"):
            raise UserError("default: net_score is answers or calibrated.")
        if self.switch_from not in ("first", "current"):
            raise UserError("default: switch_from is first or current.")
        if not 0.0 <= self.net_after_pseudo <= 1.0:
            raise UserError("default: net_after_pseudo is from 0 to 1.")
        if self.view_window < 1 or self.view_min_labels < 0 or self.net_temper < 0:
            raise UserError("default: view_window ≥ 1, view_min_labels ≥ 0 and net_temper ≥ 0.")
        if self.gate_open_until < 0:
            raise UserError("default: gate_open_until ≥ 0 (0 = off).")
        if not 0.0 <= self.self_train <= 1.0:
            raise UserError("default: self_train in [0, 1] (0 = off).")
        if not 0.0 <= self.explore_network < 1.0:
            raise UserError("default: explore_network in [0, 1) (0 = off).")
        if self.new_item_rule not in ("accuracy", "likelihood"):
            raise UserError("default: new_item_rule is accuracy or likelihood.")
        if not 0.0 < self.answer_noise < 0.5:
            raise UserError("default: answer_noise in (0, 0.5).")
        if min(self.graph_beta, self.act_kappa, self.pseudo_kappa, self.pseudo_weight) < 0:
            raise UserError("default: graph_beta, act_kappa, pseudo_* must be ≥ 0.")
        if not 0.0 < self.pseudo_quantile <= 1.0 or self.embed_every < 1:
            raise UserError("default: pseudo_quantile in (0, 1] and embed_every ≥ 1.")
        if not 0.0 <= self.pseudo_precision <= 1.0:
            raise UserError("default: pseudo_precision in [0, 1] (0 = off).")
        if self.pseudo_fixed_until < -1:
            raise UserError(
                "default: pseudo_fixed_until is −1 (the algorithm's choice), 0 or more."
            )
        if self.pseudo_until < -1:
            raise UserError("default: pseudo_until is −1 (the algorithm's choice), 0 or more.")
        if self.pseudo_recent < 0:
            raise UserError("default: pseudo_recent ≥ 0 (0 = the whole view_window).")
        if not (self.suspect_ratio == 0.0 or self.suspect_ratio >= 1.0):
            raise UserError("default: suspect_ratio is 0 (off) or ≥ 1.")


@dataclass
class SupervisedOptions(DefaultOptions):
    """supervised: the labels and the pool graph's pseudo-labels (the default's graph over the
    project's unanswered items, fitted to the corrected labels; ``pseudo_weight`` 0: the labels
    alone); the other knobs below apply only with the pool."""

    pseudo_weight: float = _opt(
        1.0,
        "weight of the pool pseudo-label cross-entropy (0: the labels alone, no pool graph, as "
        "before docs/benchmarks.md §5zz12; 1 with the five below as they are: §5zz12)",
    )
    pseudo_after_few: bool = _opt(
        True,
        "the pseudo-labels only once the answers are no longer few (8 per label): before, the "
        "labels alone, learned harder",
    )
    pseudo_from: int = _opt(
        40,
        "the pseudo-labels only from this many answers on, whatever the number of labels (0: "
        "pseudo_after_few's rule alone, from 24 answers on three labels)",
    )
    pool_augment: bool = _opt(
        True,
        "augment the pool items the pseudo-labels train on as the replayed answers are (its "
        "pseudo-labels are right more often than its network, and unaugmented the network "
        "learns the pool's pictures by heart: docs/benchmarks.md §5zz12)",
    )
    net_temper: float = _opt(
        1.0,
        "the network's weight in the pool posterior: net_temper × (its standard errors of "
        "advantage over the graph − view_z), clipped to [0, 1]; 0 = the graph alone",
    )
    net_score: str = _opt(
        "calibrated",
        "what net_temper compares the network with the graph on: calibrated (both at the power "
        "that fits the labels best) or answers (their raw probabilities)",
    )

    # the default's acting and thumbs-loss knobs: supervised shows the network's label and
    # learns the labels by cross-entropy, so these would change nothing
    NOT_USED: ClassVar[tuple[str, ...]] = (
        "optimism", "act_kappa", "explore_network", "down_weight", "correction_weight",
        "pseudo_until", "net_after_pseudo", "pseudo_fixed_until",
    )  # fmt: skip
    SHOWN_FIRST: ClassVar[tuple[str, ...]] = (
        "pseudo_weight", "pseudo_after_few", "pseudo_from", "pool_augment", "net_temper",
        "net_score",
    )  # fmt: skip

    def validate(self) -> None:
        try:
            super().validate()
        except UserError as err:  # the same checks, named for this algorithm
            raise UserError(str(err).replace("default:", "supervised:", 1)) from None
        if self.pseudo_from < 0:
            raise UserError("supervised: pseudo_from must be 0 or more answers.")


@dataclass
class EGreedyQOptions:
    """egreedy-q: a reward (Q) head per label."""

    temperature: float = _opt(0.25, "softmax(Q / T) is shown as the model's confidence")

    def validate(self) -> None:
        if self.temperature <= 0:
            raise UserError("egreedy-q: temperature must be positive.")


BASELINES = ("expected", "rloo", "running")
KL_DIRECTIONS = ("forward", "reverse")


@dataclass
class ReinforceOptions:
    """reinforce: off-policy policy gradient from thumbs."""

    baseline: str = _opt(
        "expected", "the thumb's baseline: expected (2 Σ π² − 1), rloo (the other rows) or running"
    )
    baseline_momentum: float = _opt(0.99, "momentum of the running-mean baseline")
    importance_clip: float = _opt(2.0, "clip of the importance weight π / μ")
    correction_weight: float = _opt(1.0, "weight of a correction's −log π(c)")
    kl_direction: str = _opt(
        "forward", "forward: KL(π_ref ‖ π), keeps every label alive; reverse: KL(π ‖ π_ref)"
    )

    def validate(self) -> None:
        if not 0 <= self.baseline_momentum < 1 or self.importance_clip <= 0:
            raise UserError("reinforce: baseline_momentum in [0, 1) and importance_clip > 0.")
        if self.baseline not in BASELINES:
            raise UserError(f"reinforce: baseline must be one of {', '.join(BASELINES)}.")
        if self.kl_direction not in KL_DIRECTIONS:
            raise UserError(f"reinforce: kl_direction must be one of {', '.join(KL_DIRECTIONS)}.")


# by algorithm name (the names of config.ALGORITHM_NAMES; a test keeps the two in step)
OPTIONS: dict[str, type] = {
    "default": DefaultOptions,
    "egreedy-q": EGreedyQOptions,
    "reinforce": ReinforceOptions,
    "supervised": SupervisedOptions,
}


def options_help(algorithm: str) -> list[tuple[str, Any, str]]:
    """(name, default, help) for every option of ``algorithm`` (none for an unknown name), its
    ``SHOWN_FIRST`` ones first."""
    cls = OPTIONS.get(algorithm, NoOptions)
    first = getattr(cls, "SHOWN_FIRST", ())
    rows = sorted(
        _fields(cls),
        key=lambda f: (f.name not in first, first.index(f.name) if f.name in first else 0),
    )
    return [(f.name, f.default, f.metadata.get("help", "")) for f in rows]


def _fields(cls) -> list:
    """The options ``cls`` takes: its dataclass fields less the ``NOT_USED`` it inherits."""
    return [f for f in fields(cls) if f.name not in getattr(cls, "NOT_USED", ())]


def typed(default: Any, value: Any) -> Any:
    """``value`` as the type of ``default``; a yes/no option also from its text ("false" is
    no: ``bool("false")`` would say yes). ValueError when it is neither."""
    if isinstance(default, bool) and not isinstance(value, bool):
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"{value!r} is not true or false")
    return type(default)(value)


def parse_options(cls, data: dict[str, Any] | None, algorithm: str):
    """Build an algorithm's Options dataclass from ``TrainConfig.options`` (unknown key → UserError)."""
    data = dict(data or {})
    names = {f.name: f for f in _fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        known = ", ".join(sorted(names)) or "none"
        raise UserError(
            f"algorithm {algorithm!r} has no option(s) {', '.join(unknown)}; known: {known}."
        )
    try:
        out = cls(**{k: typed(getattr(cls(), k), v) for k, v in data.items()})
    except (TypeError, ValueError) as err:
        raise UserError(f"bad option for algorithm {algorithm!r}: {err}.") from None
    check = getattr(out, "validate", None)
    if check is not None:
        check()
    return out
