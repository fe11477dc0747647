"""The algorithm names live in one place, ``config.ALGORITHM_NAMES`` (issue 13 point 3): the
registry ``algorithms.ALGORITHMS`` is a plain dict keyed by exactly those names, and validating a
``TrainConfig`` loads no learning code (config is a root module that imports no layer, ADR 0012).
"""

import subprocess
import sys
from dataclasses import fields

from mmrl_desktop.core.config import ALGORITHM_NAMES, DEVICES, TrainConfig, help_table


def test_the_registry_is_a_plain_dict_of_the_names_in_config():
    from mmrl_desktop.core.learning import algorithms

    assert type(algorithms.ALGORITHMS) is dict
    assert "ALGORITHMS" in vars(algorithms)  # a module attribute, not one made on first access
    assert tuple(algorithms.ALGORITHMS) == ALGORITHM_NAMES
    assert all(cls.name == name for name, cls in algorithms.ALGORITHMS.items())
    assert algorithms.ALGORITHM_NAMES is ALGORITHM_NAMES  # the old import path still works


def test_validating_a_config_loads_no_learning_code():
    code = (
        "import sys\n"
        "from mmrl_desktop.core.config import TrainConfig\n"
        "TrainConfig.from_dict({'algorithm': 'reinforce'})\n"
        "try:\n"
        "    TrainConfig.from_dict({'algorithm': 'dqn'})\n"
        "except Exception as err:\n"
        "    print(type(err).__name__, err)\n"
        "print(sorted(m for m in sys.modules if m.startswith('mmrl_desktop.core.learning')\n"
        "      or m.split('.')[0] == 'torch'))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    error, loaded = run.stdout.splitlines()
    assert error == (
        "UserError unknown algorithm 'dqn'; choose one of default, egreedy-q, reinforce, supervised."
    )
    assert loaded == "[]"


def test_the_help_names_every_algorithm_and_device_from_their_one_list():
    help_of = {name: text for name, _default, text in help_table(TrainConfig)}
    assert set(help_of) == {f.name for f in fields(TrainConfig)}
    assert all(help_of.values())  # every setting has its help sentence
    assert help_of["algorithm"] == "learning algorithm: default, egreedy-q, reinforce or supervised"
    assert help_of["device"] == "auto, cpu, cuda or mps"
    assert all(n in help_of["algorithm"] for n in ALGORITHM_NAMES)
    assert all(d in help_of["device"] for d in DEVICES)
