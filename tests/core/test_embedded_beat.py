"""The embedded default's beat: one process of several runs the schedule, each task with its arguments."""

from __future__ import annotations

import pytest
from celery import shared_task

from apps.core.embedded_beat import EmbeddedBeat
from tests.celery_workers import wait_until

RUNS: list[tuple] = []


@shared_task(name="tests.embedded_beat_probe")
def embedded_beat_probe(*args) -> None:
    RUNS.append(args)


@pytest.fixture
def schedule():
    RUNS.clear()
    return {
        "probe": {"task": "tests.embedded_beat_probe", "schedule": 0.05, "args": [["day"]]},
        "ingest": {"task": "analytics.call_logs_ingest", "schedule": 0.05},  # needs Redis: never run here
    }


def test_one_process_runs_the_schedule_with_its_arguments(tmp_path, schedule, db):
    lock = tmp_path / "beat.lock"
    first = EmbeddedBeat(schedule=schedule, lock_path=lock, tick_seconds=0.01)
    second = EmbeddedBeat(schedule=schedule, lock_path=lock, tick_seconds=0.01)
    try:
        assert first.start() is True
        assert second.start() is False  # the lock is taken: this process leaves the schedule alone
        wait_until(lambda: len(RUNS) >= 3, timeout=5, what="three runs of the probe")
    finally:
        first.stop()
    assert all(run == (["day"],) for run in RUNS)
    assert second.start() is True  # released at stop
    second.stop()
