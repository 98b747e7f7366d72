"""Live migration between two emulated hosts (pods) by CRIU checkpoint/restore."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.testbed


def _wait_ticks(ctr, at_least: int, timeout_s: float = 10.0) -> int:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        ticks, _ = ctr.worker_stats()
        if ticks >= at_least:
            return ticks
        time.sleep(0.1)
    raise AssertionError(f"worker {ctr.name} did not reach {at_least} ticks in {timeout_s} s")


def test_state_survives_a_move_between_pods_and_the_pause_is_measured(make_pod, tmp_path):
    from pregan.testbed.podman import migrate, run_worker

    src, dst = make_pod(0.5, 128.0), make_pod(0.5, 128.0)
    ctr = run_worker(f"{src.name}-w", src)
    ctr.write_demand(0.1, 8.0)
    before = _wait_ticks(ctr, 15)

    res = migrate(ctr, f"{dst.name}-w", dst.id, tmp_path)

    assert res.ok, res.error
    assert res.container is not None
    # The restored process runs under the target pod's cgroup parent (its quota binds it).
    assert res.container.cgroup.startswith(dst.cgroup_parent + "/")
    after, _ = res.container.worker_stats()
    # The counter continues: a fresh start would read 0-2 ticks; it must not go back.
    assert after >= before
    assert _wait_ticks(res.container, after + 5) >= after + 5  # and it keeps running there
    assert 0.0 < res.pause_s < 10.0
    assert res.bytes_moved > 8 * 2**20  # the 8 MB resident (incompressible) travel with it


def test_a_failed_restore_leaves_the_container_running_where_it_was(make_pod, tmp_path):
    from pregan.testbed.podman import migrate, run_worker

    src = make_pod(0.5, 128.0)
    ctr = run_worker(f"{src.name}-w", src)
    before = _wait_ticks(ctr, 10)

    res = migrate(ctr, f"{src.name}-moved", "no-such-pod-id", tmp_path)

    assert not res.ok
    assert "no-such-pod-id" in res.error or "pod" in res.error.lower()
    assert res.container is not None, "the container was lost"
    assert res.container.cgroup.startswith(src.cgroup_parent + "/")
    assert _wait_ticks(res.container, before + 5) >= before + 5
