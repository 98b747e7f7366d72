"""Can this machine run the test bed? One reason per missing capability.

Tests marked `testbed` skip with `probe().reason` when it cannot run; the backend refuses
to start with the same message. The checks are cheap (files and `podman image exists`);
scripts/setup_testbed.sh installs what is missing and runs the expensive checks (a real
checkpoint, tc and iptables in a container's namespace) once.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pregan.testbed.podman import IMAGE, TESTBED_DIR, env

SETUP = "run `bash scripts/setup_testbed.sh` as root"


@dataclass(frozen=True)
class Capabilities:
    missing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.missing

    @property
    def reason(self) -> str:
        return "test bed unavailable: " + "; ".join(self.missing) + f" ({SETUP})"


@functools.cache
def probe() -> Capabilities:
    """What the test bed needs and this machine lacks (cached for the process)."""
    missing: list[str] = []
    if os.geteuid() != 0:
        missing.append("not root (pods with cgroup parents, CRIU, tc and iptables need it)")
    for tool in ("podman", "runc", "nsenter", "tc", "iptables"):
        if shutil.which(tool) is None:
            missing.append(f"{tool} not on PATH")
    for controller in ("cpu", "cpuacct", "memory", "blkio"):
        if not Path(f"/sys/fs/cgroup/{controller}/cgroup.procs").exists():
            missing.append(f"cgroup v1 controller {controller} not mounted at /sys/fs/cgroup")
    if not (TESTBED_DIR / "containers.conf").is_file():
        missing.append(f"{TESTBED_DIR / 'containers.conf'} absent")
    if not os.access(TESTBED_DIR / "bin" / "criu", os.X_OK):
        missing.append(f"CRIU 4.1 not built at {TESTBED_DIR / 'bin' / 'criu'}")
    if not missing:
        out = subprocess.run(
            ["podman", "image", "exists", IMAGE], env=env(), capture_output=True, timeout=30
        )
        if out.returncode != 0:
            missing.append(f"image {IMAGE} absent")
    return Capabilities(tuple(missing))
