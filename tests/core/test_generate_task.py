"""The ``generate`` task end to end: project.toml, the trainer process's drafting and learning
through the store, checkpoints and rollback (a tiny Llama-style model built from a config)."""

import pytest

from mmrl_desktop.core.config import GenerateConfig
from mmrl_desktop.core.data.project import GenerateTask, Project, Task
from mmrl_desktop.core.errors import ProjectError

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
        ({"top_k": 3}, "unknown GenerateConfig setting"),
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
