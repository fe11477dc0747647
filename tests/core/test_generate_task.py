"""The ``generate`` task end to end: project.toml, the trainer process's drafting and learning
through the store, checkpoints and rollback (a tiny Llama-style model built from a config)."""

import pytest

from mmrl_desktop.core.config import GenerateConfig
from mmrl_desktop.core.data.project import GenerateTask, Project, Task
from mmrl_desktop.core.errors import ProjectError
from tests.core.tinylm import WORDS

FINDING = {"prompt": "Finding:", "model": "lm", "max_new_tokens": 4, "temperature": 0.0}


def _task(**over) -> GenerateTask:
    return GenerateTask("finding", GenerateConfig.from_dict({**FINDING, **over}))


def test_a_generate_task_lives_beside_the_label_tasks_in_project_toml(tmp_path):
    p = Project.create(
        tmp_path / "p", tasks=[Task("label", ["a", "b"])], generate_tasks=[_task(candidates=2)]
    )
    text = p.toml_path.read_text()
    assert 'kind = "generate"' in text and 'prompt = "Finding:"' in text
    q = Project.open(tmp_path / "p")
    assert [t.name for t in q.tasks] == ["label"]  # the label tasks are unchanged
    g = q.generate_task("finding")
    assert g.settings.candidates == 2 and g.settings.max_new_tokens == 4
    assert g.model_folder(q.root) == q.root / "lm"
    q.set_tasks_from_labels(["c"])
    q.save()  # a save keeps the generate task
    assert Project.open(tmp_path / "p").generate_tasks == q.generate_tasks


def test_add_generate_task_keeps_what_another_process_wrote(tmp_path):
    p = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    other = Project.open(tmp_path / "p")
    p.add_generate_task(_task())
    other.add_labels(["c"])  # another process's write keeps the generate task
    q = Project.open(tmp_path / "p")
    assert q.task("label").labels == ["a", "b", "c"] and q.generate_task().name == "finding"
    with pytest.raises(ProjectError, match="label task"):
        q.add_generate_task(GenerateTask("label", _task().settings))


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ({"prompt": ""}, "needs a prompt"),
        ({"model": ""}, "model folder"),
        ({"temperature": -1.0}, "temperature"),
        ({"candidates": 9}, "candidates"),
        ({"kto_beta": 0.0}, "kto_beta"),
        ({"top_k": 3}, "unknown generate task setting"),
    ],
)
def test_a_bad_generate_task_is_one_sentence(tmp_path, entry, match):
    p = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    settings = {**FINDING, **entry}
    lines = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in settings.items())
    with p.toml_path.open("a") as fh:
        fh.write(f'\n[[tasks]]\nname = "finding"\nkind = "generate"\n{lines}\n')
    with pytest.raises(ProjectError, match=match):
        Project.open(p.root)


# ---------------------------------------------------------------- the trainer process's side


@pytest.fixture
def project(tmp_path, tiny_lm_folder):
    from mmrl_desktop.core.data.items import Item

    task = _task(model=str(tiny_lm_folder), temperature=1.0, updates_per_answer=2, draft_ahead=2)
    p = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])], generate_tasks=[task])
    with p.open_store() as s:
        s.add_items(
            [
                Item(f"i{k}", text_inline=f"case {k}", labels={"label": "ab"[k % 2]})
                for k in range(6)
            ]
        )
    return p


def _gen(project, **kw):
    from mmrl_desktop.core.learning.generate_trainer import GenerateTrainer

    return GenerateTrainer(project, project.generate_task(), "cpu", **kw)


def test_drafts_ahead_of_the_queue_are_stored_with_their_policy(project):
    gen = _gen(project)
    gen.set_queue(["i0", "i1", "i2", "i3", "i4"])
    r = gen.step()
    assert gen.policy.kto.beta == 0.1 and gen.policy.optimizer.param_groups[0]["lr"] == 1e-4
    assert [d.item_id for d in r.drafts] == ["i0", "i1", "i2"]  # the shown one + draft_ahead
    d = r.drafts[0]
    assert d.prompt == "case 0\nFinding:" and d.policy_version == 0 and d.logprob < 0
    assert d.fingerprint == gen.policy.fingerprint and len(d.token_ids) >= 1
    assert gen.store.drafts(item_id="i0") == [d]
    assert not gen.step().did_work  # nothing due, nothing owed
    gen.set_queue(["i1", "i2", "i3", "i4"])
    assert [d.item_id for d in gen.step().drafts] == ["i3"]
    gen.close()


def test_answers_and_edits_train_and_the_next_items_are_drafted_again(project):
    gen = _gen(project)
    gen.set_queue(["i0", "i1", "i2"])
    d0, d1, d2 = gen.step().drafts
    with project.open_store() as s:  # the app's connection
        s.answer_draft(d0.draft_id, +1)
        s.answer_draft(d1.draft_id, -1, edited_text="8 mm nodule right upper lobe")
    gen.set_queue(["i2", "i3"])
    first = gen.step()  # the answers are read; i3 is drafted first
    assert first.metrics["reward/drafts_thumbs_up"] == 0.5
    assert [d.item_id for d in first.drafts] == ["i3"] and gen.pending_updates == 4
    seen = {}
    while gen.pending_updates:
        seen.update(gen.step().metrics)
    for key in ("loss/drafts_kto", "kl/drafts_kto", "loss/drafts_margin", "loss/drafts_sft"):
        assert key in seen, key
    assert gen.policy_version == 1 and gen.updates == 4
    again = gen.step()  # a new policy: the item after the shown one is drafted again
    assert [(d.item_id, d.policy_version) for d in again.drafts] == [("i3", 1)]
    gen.close()


def test_checkpoints_resume_and_roll_back(project):
    import torch

    from mmrl_desktop.core.learning.generate_trainer import (
        checkpoint_folder,
        promote_generate_checkpoint,
    )

    gen = _gen(project)
    gen.set_queue(["i0", "i1"])
    d0, d1 = gen.step().drafts
    with project.open_store() as s:
        s.answer_draft(d0.draft_id, +1)
        s.answer_draft(d1.draft_id, -1)
    gen.step()
    first = gen.save_checkpoint("first")
    while gen.pending_updates:
        gen.step()
    trained = gen.policy.state_for_checkpoint()["adapters"]
    gen.close()  # the closing checkpoint holds the trained adapters
    again = _gen(project)
    again.build()
    assert again.policy_version == 1 and again.pending_updates == 0
    back = again.policy.state_for_checkpoint()["adapters"]
    assert all(torch.equal(trained[k], back[k]) for k in trained)
    again.close()
    with project.open_store() as s:
        promote_generate_checkpoint(project, "finding", first, s)
        assert s.audit_log()[-1][1:] == (
            "rollback",
            {
                "task": "finding",
                "source": first.name,
                "checkpoint": "ckpt-00000005.safetensors",
                "version": 2,
            },
        )
    rolled = _gen(project)
    rolled.build()
    assert rolled.policy_version == 2  # above every version so far
    old = rolled.policy.state_for_checkpoint()["adapters"]
    assert not all(torch.equal(trained[k], old[k]) for k in trained)
    assert len(list(checkpoint_folder(project, "finding").glob("*.json"))) == 3
    rolled.close()


def _events_until(client, done, seconds=120.0):
    import time

    seen = []
    deadline = time.monotonic() + seconds
    while not done(seen) and time.monotonic() < deadline and not client.done:
        seen += client.poll(0.2)
    assert done(seen), [type(e).__name__ for e in seen][-20:]
    return seen


def test_the_trainer_loop_sends_drafts_ahead_and_learns_from_the_answers(project):
    """The loop of the trainer process (here in a thread) with the label trainer beside."""
    from mmrl_desktop.core.learning.trainer_client import TrainerClient
    from mmrl_desktop.core.learning.trainer_messages import Drafts, Metrics, SetQueue, Wake
    from mmrl_desktop.core.learning.with_drafts import build_with_drafts

    def build():
        return build_with_drafts(Project.open(project.root), "cpu", queue_size=0)

    client = TrainerClient(str(project.root), "cpu", build=build)
    client.send(SetQueue(("i0", "i1", "i2", "i3")))
    client.start()
    try:

        def drafted(seen):
            return {d.item_id for e in seen if isinstance(e, Drafts) for d in e.drafts}

        seen = _events_until(client, lambda s: drafted(s) >= {"i0", "i1", "i2"})
        info = next(e.info for e in seen if type(e).__name__ == "Info")
        assert info["generate"][0]["task"] == "finding" and "model_version" in info
        first = next(e for e in seen if isinstance(e, Drafts))
        assert first.task == "finding" and first.drafts[0].item_id == "i0"
        with project.open_store() as s:
            s.answer_draft(first.drafts[0].draft_id, -1, edited_text="no focal lesion")
        client.send(Wake())

        def learned(seen):
            return any(isinstance(e, Metrics) and "loss/drafts_kto" in e.metrics for e in seen)

        _events_until(client, learned)
    finally:
        client.stop()
    with project.open_store() as s:  # the metrics are in the store, for the charts' history
        assert s.metrics("loss/drafts_kto") and s.metrics("reward/drafts_thumbs_up")


def test_several_candidates_per_item(project):
    project.generate_task().settings.candidates = 2
    gen = _gen(project)
    gen.set_queue(["i0"])
    drafts = gen.step().drafts
    assert [(d.item_id, d.candidate) for d in drafts] == [("i0", 0), ("i0", 1)]
    gen.close()


def test_a_vision_language_model_drafts_image_items(tmp_path):
    """A tiny LLaVA from its config: image items are drafted from their image and the prompt,
    an item without an image is not drafted; an answer trains it."""
    from PIL import Image

    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.core.learning.generate.tiny import build_tiny_vlm

    vlm = build_tiny_vlm(tmp_path / "vlm", WORDS, hidden=16, image_size=16)
    for k in range(2):
        Image.new("RGB", (20, 20), (40 * k, 90, 200)).save(tmp_path / f"img{k}.png")
    task = _task(model=str(vlm), draft_ahead=2, updates_per_answer=1)
    p = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])], generate_tasks=[task])
    with p.open_store() as s:
        s.add_items([Item(f"img{k}", image=str(tmp_path / f"img{k}.png")) for k in range(2)])
        s.add_items([Item("words", text_inline="case 1")])
    gen = _gen(p)
    gen.set_queue(["img0", "words", "img1"])
    drafts = gen.step().drafts
    assert [d.item_id for d in drafts] == ["img0", "img1"] and drafts[0].prompt == "Finding:"
    with p.open_store() as s:
        s.answer_draft(drafts[0].draft_id, -1, edited_text="no focal lesion")
    metrics = gen.step().metrics
    assert "loss/drafts_kto" in metrics and "loss/drafts_sft" in metrics
    gen.close()


def test_a_model_folder_that_cannot_be_used_is_one_warning_and_labels_still_train(tmp_path):
    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.core.learning.trainer_client import TrainerClient
    from mmrl_desktop.core.learning.trainer_messages import Failed, Metrics, Warned
    from mmrl_desktop.core.learning.with_drafts import build_with_drafts

    (tmp_path / "not-a-model").mkdir()
    p = Project.create(
        tmp_path / "p",
        tasks=[Task("label", ["a", "b"])],
        generate_tasks=[_task(model=str(tmp_path / "not-a-model"))],
    )
    with p.open_store() as s:
        s.add_items([Item(f"i{k}", text_inline=f"case {k}") for k in range(4)])
        s.record_feedback("i0", "label", "a", 0.5, +1)
    client = TrainerClient(
        str(p.root), "cpu", build=lambda: build_with_drafts(Project.open(p.root), "cpu")
    )
    client.start()
    try:

        def trained(seen):
            return any(isinstance(e, Metrics) and "loss/total" in e.metrics for e in seen)

        seen = _events_until(client, lambda s: trained(s) and any(isinstance(e, Warned) for e in s))
    finally:
        client.stop()
    (warning,) = [e.text for e in seen if isinstance(e, Warned)]
    assert warning.startswith("The finding task drafts nothing: ") and "\n" not in warning
    assert not any(isinstance(e, Failed) for e in seen)


def test_the_trainer_balances_thumbs_and_learns_slowly_while_few_are_good(project):
    """λ_D·n_D = λ_U·n_U from the replay's counts (the majority's weight lowered), the reference
    point from the policy's own samples, and no learning before the first thumbs-up."""
    import torch

    gen = _gen(project)
    gen.set_queue(["i0", "i1", "i2"])
    drafts = gen.step().drafts
    gen.set_queue(["i3"])
    drafts += gen.step().drafts
    sampled = []  # the reference point's texts: sampled by the policy (kto_kl = "samples")
    sample = gen.policy.sample_kl_batch
    gen.policy.sample_kl_batch = lambda b, n: sampled.append(n) or sample(b, n)

    def train() -> dict:
        metrics = {}
        while (r := gen.step()).did_work:
            metrics.update(r.metrics)
        return metrics

    with project.open_store() as s:
        for d in drafts[:3]:
            s.answer_draft(d.draft_id, -1)
    before = {k: v.clone() for k, v in gen.policy.model.named_parameters() if v.requires_grad}
    metrics = train()
    after = dict(gen.policy.model.named_parameters())
    assert all(torch.equal(v, after[k]) for k, v in before.items())  # 👎 only: nothing learnt
    assert metrics["kl/drafts_kto"] >= 0 and gen.policy.optimizer.param_groups[0]["lr"] == 0
    assert sampled and set(sampled) == {gen.settings.max_new_tokens}
    with project.open_store() as s:
        s.answer_draft(drafts[3].draft_id, +1)
    train()
    kto = gen.policy.kto
    assert (kto.desirable_weight, kto.undesirable_weight) == (1.0, pytest.approx(1 / 3))
    assert gen.policy.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4 / 20)
    assert not all(torch.equal(v, after[k]) for k, v in before.items())
    gen.close()
