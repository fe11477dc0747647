"""The command line with a generate task: ``predict`` drafts new files with the trained adapters,
``export --format generate`` writes the LoRA adapters and a merged model that plain
``transformers`` loads back, and ``export --format feedback-jsonl`` carries every draft and its
answers (new keys only: the label events' rows are unchanged)."""

from __future__ import annotations

import json

import pytest

from mmrl_desktop.cli import main
from mmrl_desktop.core.config import GenerateConfig
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import GenerateTask, Project, Task
from mmrl_desktop.core.tools.feedback_export import COLUMNS
from tests.core.tinylm import WORDS


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A project whose generate task has trained on two answers (a checkpoint on disk)."""
    from mmrl_desktop.core.learning.generate.tiny import build_tiny_lm
    from mmrl_desktop.core.learning.generate_trainer import GenerateTrainer

    root = tmp_path_factory.mktemp("gen")
    lm = build_tiny_lm(root / "lm", WORDS, hidden=16, layers=1)
    settings = {"prompt": "Finding:", "model": "../lm", "max_new_tokens": 4, "temperature": 0.0}
    task = GenerateTask("finding", GenerateConfig.from_dict(settings))
    p = Project.create(root / "p", tasks=[Task("label", ["a", "b"])], generate_tasks=[task])
    assert task.model_folder(p.root).resolve() == lm.resolve()
    with p.open_store() as s:
        s.add_items(
            [Item(f"i{k}", text_inline=f"case {k}", labels={"label": "a"}) for k in range(3)]
        )
        s.record_feedback("i0", "label", "a", 0.5, +1)
    gen = GenerateTrainer(p, task, "cpu")
    gen.set_queue(["i0", "i1"])
    d0, d1 = gen.step().drafts
    with p.open_store() as s:
        s.answer_draft(d0.draft_id, +1)
        s.answer_draft(d1.draft_id, -1, edited_text="no focal lesion")
    while gen.step().did_work:
        pass
    gen.close()
    new = root / "new"
    new.mkdir()
    (new / "case9.txt").write_text("case 5 no focal lesion", encoding="utf-8")
    return p, new


def test_predict_drafts_new_files(trained, capsys):
    project, new = trained
    assert (
        main(["predict", str(new), "--project", str(project.root), "--device", "cpu", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    (draft,) = out["drafts"]
    assert draft["id"] == "case9" and draft["task"] == "finding" and draft["path"] == "case9.txt"
    assert draft["policy_version"] == 1 and isinstance(draft["text"], str) and draft["logprob"] <= 0
    assert out["predictions"] and out["predictions"][0]["task"] == "label"  # unchanged


def test_export_writes_adapters_and_a_merged_model_transformers_loads(trained, tmp_path, capsys):
    import transformers

    project, _ = trained
    out = tmp_path / "model"
    args = ["export", "--project", str(project.root), "--format", "generate", "--out", str(out)]
    assert main([*args, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["check"]["same_draft"] is True and info["policy_version"] == 1
    assert (out / "adapters" / "adapter_model.safetensors").is_file()
    assert (out / "merged" / "model.safetensors").is_file()
    assert not list((out / "merged").glob("*.bin"))
    model = transformers.AutoModelForCausalLM.from_pretrained(out / "merged", local_files_only=True)
    assert model.config.vocab_size > len(WORDS)
    assert main(args) == 2  # a second export into the same folder: one sentence, nothing lost
    assert "not empty" in capsys.readouterr().err


def test_feedback_jsonl_carries_the_drafts_and_their_answers(trained, tmp_path, capsys):
    project, _ = trained
    out = tmp_path / "feedback.jsonl"
    args = ["export", "--project", str(project.root), "--format", "feedback-jsonl"]
    assert main([*args, "--out", str(out), "--json"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    events = [r for r in rows if not r["kind"].startswith("draft")]
    assert [tuple(r) for r in events] == [COLUMNS]  # the label answer's row as before
    drafts = [r for r in rows if r["kind"] == "draft"]
    answers = [r for r in rows if r["kind"] == "draft_answer"]
    assert len(drafts) >= 2 and len(answers) == 2
    assert {"draft_id", "draft_text", "draft_logprob", "policy_version", "base_fingerprint"} <= set(
        drafts[0]
    )
    edit = answers[1]
    assert edit["reward"] == -1 and edit["edited_text"] == "no focal lesion"
    assert (
        edit["draft_id"] == drafts[1]["draft_id"] and edit["draft_text"] == drafts[1]["draft_text"]
    )
    hidden = tmp_path / "pseudonymous.jsonl"
    assert main([*args, "--out", str(hidden), "--pseudonymize"]) == 0
    ids = {json.loads(line)["item_id"] for line in hidden.read_text().splitlines()}
    assert ids and not ids & {"i0", "i1", "i2"}  # the drafts' rows too
    csv_out = tmp_path / "feedback.csv"
    assert main([*args[:-1], "feedback-csv", "--out", str(csv_out)]) == 0
    assert len(csv_out.read_text().splitlines()) == 2  # the CSV keeps its columns: events only


def test_predict_on_a_project_of_drafts_only(trained, tmp_path, capsys):
    import shutil

    project, new = trained
    only = tmp_path / "only"
    shutil.copytree(project.root, only)
    text = (only / "project.toml").read_text()
    start = text.index("[[tasks]]")
    end = text.index("[[tasks]]", start + 1)
    (only / "project.toml").write_text(text[:start] + text[end:])  # the label task removed
    p = Project.open(only)
    assert not p.tasks and p.generate_task().name == "finding"
    shutil.copytree(project.root.parent / "lm", tmp_path / "lm")  # model = "../lm"
    assert main(["predict", str(new), "--project", str(only), "--device", "cpu", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["predictions"] == [] and [d["id"] for d in out["drafts"]] == ["case9"]
    assert out["model"]["version"] == 1 and out["model"]["written"]
