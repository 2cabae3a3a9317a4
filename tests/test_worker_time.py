"""The time model: stage-weighted progress that never goes back, ETAs from measurements, stall and cap."""

from __future__ import annotations

import pytest

from i2v.config import Settings
from i2v.errors import ErrorCode
from i2v.jobs import Stage
from i2v.store import STEP, Timing
from i2v.worker.deadlines import check, job_cap, stall_budget
from i2v.worker.eta import STEP_MAX, Expectation, Position, estimate

SETTINGS = Settings(stall_timeout_seconds=180, min_job_seconds=900, max_job_seconds=3600)


def measured(**means: float) -> dict[str, Timing]:
    return {name: Timing(mean=value, std=value / 10, samples=5) for name, value in means.items()}


def test_before_anything_ran_the_prior_is_split_so_generating_dominates() -> None:
    expected = Expectation.prior(100.0, steps=20)
    assert expected.total == pytest.approx(100.0)
    assert expected.stages[Stage.GENERATING] == pytest.approx(80.0)


def test_measured_steps_scale_the_generating_estimate_to_this_jobs_step_count() -> None:
    timings = measured(preprocessing=1.0, generating=40.0, encoding=3.0, **{STEP: 2.0})
    expected = Expectation.from_timings(timings, steps=30, prior_total=999)
    assert expected.stages[Stage.GENERATING] == 60.0
    assert expected.stages[Stage.DECODING] == 0.0
    assert expected.total == 64.0


def test_progress_follows_steps_while_generating_and_the_jobs_own_pace_drives_the_eta() -> None:
    expected = Expectation.from_timings(
        measured(preprocessing=5.0, generating=80.0, encoding=15.0), 10, 0
    )
    progress, left = estimate(
        expected, Position(Stage.GENERATING, stage_elapsed=20.0, done=5, total=10)
    )
    assert progress == pytest.approx((5 + 40) / 100)
    assert left == pytest.approx(5 * 4.0 + 15.0)


def test_progress_follows_the_frames_while_encoding_where_the_child_reports_them() -> None:
    expected = Expectation.from_timings(
        measured(preprocessing=5.0, generating=75.0, encoding=20.0), 10, 0
    )
    progress, left = estimate(
        expected, Position(Stage.ENCODING, stage_elapsed=4.0, done=75, total=300)
    )
    assert progress == pytest.approx((80 + 0.25 * 20) / 100)
    assert left == pytest.approx(225 * 4.0 / 75)
    last, _ = estimate(expected, Position(Stage.ENCODING, stage_elapsed=16.0, done=300, total=300))
    assert last < 1.0


def test_a_stage_running_past_its_estimate_never_reaches_its_end_early() -> None:
    expected = Expectation.prior(100.0)
    progress, left = estimate(expected, Position(Stage.ENCODING, stage_elapsed=500.0))
    assert progress < 1.0
    assert left == 0.0


def test_the_stall_budget_grows_to_five_times_the_slowest_normal_step() -> None:
    fast = Expectation.from_timings(measured(generating=10.0, **{STEP_MAX: 2.0}), 5, 0)
    slow = Expectation.from_timings(measured(generating=500.0, **{STEP_MAX: 100.0}), 5, 0)
    assert stall_budget(Stage.GENERATING, fast, SETTINGS) == 180
    assert stall_budget(Stage.GENERATING, slow, SETTINGS) == pytest.approx(5 * (100 + 1.645 * 10))


def test_the_cap_is_three_times_the_eta_plus_two_minutes_within_the_limits() -> None:
    assert job_cap(10, SETTINGS) == 900
    assert job_cap(400, SETTINGS) == 3 * 400 + 120
    assert job_cap(5000, SETTINGS) == 3600


def test_a_job_that_keeps_stepping_is_healthy_however_long_it_has_run_below_the_cap() -> None:
    expected = Expectation.prior(600.0)
    assert (
        check(
            stage=Stage.GENERATING,
            silent_for=30,
            running_for=1800,
            expected=expected,
            settings=SETTINGS,
        )
        is None
    )


def test_silence_beyond_the_budget_is_a_stall_and_running_past_the_cap_a_timeout() -> None:
    expected = Expectation.prior(600.0)
    stalled = check(
        stage=Stage.DECODING, silent_for=181, running_for=10, expected=expected, settings=SETTINGS
    )
    assert stalled is not None and stalled.code is ErrorCode.STALLED
    assert "decoding the frames" in stalled.message and "3 minutes" in stalled.message
    late = check(
        stage=Stage.GENERATING, silent_for=1, running_for=1921, expected=expected, settings=SETTINGS
    )
    assert late is not None and late.code is ErrorCode.TIMEOUT
    assert "32 minutes" in late.message
