"""Fixtures of the live test bed: skip with the probe's reason where it cannot run, and
remove every pod and cgroup a test created, whatever the test did."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from pregan.testbed.capabilities import probe


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    caps = probe()
    for item in items:
        if "testbed" in item.keywords and not caps.ok:
            item.add_marker(pytest.mark.skip(reason=caps.reason))


@pytest.fixture
def make_pod() -> Iterator[Callable[..., object]]:
    """make_pod(cpu_cores, memory_mb) -> Pod, removed (with its containers) at teardown."""
    from pregan.testbed.podman import create_pod, remove_pod

    made = []
    tag = f"pgtest{os.getpid()}"

    def make(cpu_cores: float = 0.5, memory_mb: float = 256.0):
        i = len(made)
        pod = create_pod(f"{tag}-p{i}", f"/{tag}_p{i}", cpu_cores, memory_mb)
        made.append(pod)
        return pod

    yield make
    for pod in made:
        remove_pod(pod)
