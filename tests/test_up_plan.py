"""What `i2v up` decides to run: one worker per GPU, pinned to it; the bot only with a token."""

from __future__ import annotations

from pathlib import Path

from i2v.config import Settings
from i2v.launcher import plan_children


def test_one_worker_per_gpu_each_pinned_to_its_own_card(tmp_path: Path) -> None:
    children = plan_children(Settings(data_dir=tmp_path), [0, 1])
    assert [c.name for c in children] == ["worker-0", "worker-1"]
    for child, gpu in zip(children, ("0", "1"), strict=True):
        assert child.env["CUDA_VISIBLE_DEVICES"] == gpu
        assert list(child.argv[-3:]) == ["worker", "--gpu", gpu]


def test_without_a_gpu_there_is_one_cpu_worker_and_no_bot_without_a_token(tmp_path: Path) -> None:
    (worker,) = plan_children(Settings(data_dir=tmp_path), [])
    assert worker.role == "worker"
    assert "CUDA_VISIBLE_DEVICES" not in worker.env
    assert list(worker.argv[-1:]) == ["worker"]


def test_the_bot_runs_when_a_token_is_set_and_its_stop_budget_is_short(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, telegram_token="123456789:" + "a" * 35)
    children = plan_children(settings, [], roles=["bot"])
    assert [c.role for c in children] == ["bot"]
    assert children[0].stop_seconds < settings.stop_grace_seconds


def test_a_worker_may_take_as_long_as_the_stop_grace_and_some_more(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, stop_grace_seconds=45)
    (worker,) = plan_children(settings, [], roles=["worker"])
    assert worker.stop_seconds > 45


def test_the_api_runs_only_when_asked(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert [c.role for c in plan_children(settings, [], api=True)] == ["worker", "api"]
    assert [c.role for c in plan_children(settings, [])] == ["worker"]
