"""The trainer's metrics buffer (core/learning/metrics_buffer.py): a mean per key, the last value
of a ``data/`` key, written when the interval has passed."""

from mmrl_desktop.core.learning.metrics_buffer import MetricsBuffer


def test_take_gives_the_mean_and_the_last_data_value_then_starts_over():
    buf = MetricsBuffer(interval_s=3600.0)
    assert buf.add({"train/loss": 1.0, "data/model_version": 3.0}) is False
    assert buf.add({"train/loss": 3.0, "data/model_version": 4.0}) is False
    assert buf.take() == {"train/loss": 2.0, "data/model_version": 4.0}
    assert buf.take() == {}


def test_add_says_when_the_interval_has_passed():
    assert MetricsBuffer(interval_s=0.0).add({"train/loss": 1.0}) is True
