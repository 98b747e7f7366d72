"""Thin, typed calls to the podman CLI and the cgroup v1 files the test bed reads.

The CLI (not the libpod REST API) keeps the dependency list empty; the calls it makes are
the ones measured in ../shared/reference/TESTBED.md. Every call runs with the private
containers.conf (runc, ulimits root may set) and CRIU 4.1 first on PATH, both installed by
scripts/setup_testbed.sh under .testbed/.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TESTBED_DIR = Path(os.environ.get("PREGAN_TESTBED_DIR", PROJECT_ROOT / ".testbed"))
IMAGE = "local/pregan-edge:1"
CGROUP_ROOT = Path("/sys/fs/cgroup")


class PodmanError(RuntimeError):
    """A podman command failed; the message holds the command and its stderr."""


def env() -> dict[str, str]:
    """The environment podman runs in: private containers.conf, our CRIU first on PATH."""
    e = dict(os.environ)
    e["CONTAINERS_CONF"] = str(TESTBED_DIR / "containers.conf")
    e["PATH"] = f"{TESTBED_DIR / 'bin'}:{e.get('PATH', '/usr/bin:/bin')}"
    return e


def podman(*args: str, timeout_s: float = 60.0, check: bool = True) -> str:
    """Run `podman args...`; return stdout, raise PodmanError (with stderr) on failure."""
    cmd = ["podman", *args]
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, env=env(), timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as err:
        raise PodmanError(f"{' '.join(cmd)}: timed out after {timeout_s} s") from err
    if check and out.returncode != 0:
        raise PodmanError(f"{' '.join(cmd)}: exit {out.returncode}: {out.stderr.strip()[-800:]}")
    return out.stdout.strip()


def run_in_netns(pid: int, *args: str) -> None:
    """Run a command (tc, iptables) inside the network namespace of process `pid`."""
    cmd = ["nsenter", "-t", str(pid), "-n", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0:
        raise PodmanError(f"{' '.join(cmd)}: exit {out.returncode}: {out.stderr.strip()}")


@dataclass(frozen=True)
class Container:
    """A running container: its name, full id, init pid and cgroup path below a controller."""

    name: str
    id: str
    pid: int
    cgroup: str  # e.g. /pregan_h0/<pod id>/libpod-<id>, the same under every v1 controller

    def file(self, controller: str, name: str) -> Path:
        return CGROUP_ROOT / controller / self.cgroup.lstrip("/") / name

    def write_demand(
        self,
        cpu_cores: float,
        ram_mb: float,
        read_mb_s: float = 0.0,
        write_mb_s: float = 0.0,
        net_mbit_s: float = 0.0,
    ) -> None:
        """Set the worker's demand for the next ticks (read by the worker every 100 ms)."""
        path = Path(f"/proc/{self.pid}/root/run/demand")
        tmp = path.with_name("demand.tmp")
        tmp.write_text(
            f"{cpu_cores:.4f} {ram_mb:.2f} {read_mb_s:.3f} {write_mb_s:.3f} {net_mbit_s:.3f}\n"
        )
        os.replace(tmp, path)  # the worker never reads half a line

    def worker_stats(self) -> tuple[int, int]:
        """(ticks done, bytes sent) as the worker last wrote them; (0, 0) before its first tick."""
        try:
            fields = Path(f"/proc/{self.pid}/root/run/counter").read_text().split()
            return int(fields[0]), int(fields[1]) if len(fields) > 1 else 0
        except (OSError, ValueError, IndexError):
            return 0, 0


def inspect(name: str) -> Container:
    """The running container `name` (its pid and cgroup from /proc, as the kernel sees them)."""
    info = json.loads(podman("inspect", "--type", "container", name))[0]
    pid = int(info["State"]["Pid"])
    if pid <= 0:
        raise PodmanError(f"container {name} is not running (state {info['State']['Status']})")
    cgroup = ""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpuacct" in controllers.split(","):
            cgroup = path
    return Container(name=name, id=info["Id"], pid=pid, cgroup=cgroup)


def read_int(path: Path, default: int = 0) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def memory_stat(path: Path) -> dict[str, int]:
    """memory.stat as a dict (total_* fields are hierarchical)."""
    try:
        return {k: int(v) for k, v in (ln.split() for ln in path.read_text().splitlines())}
    except OSError:
        return {}


def blkio_bytes(path: Path) -> tuple[int, int]:
    """(read, write) bytes over all devices from a blkio.throttle.io_service_bytes* file."""
    rd = wr = 0
    try:
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == "Read":
                rd += int(parts[2])
            elif len(parts) == 3 and parts[1] == "Write":
                wr += int(parts[2])
    except OSError:
        pass
    return rd, wr


def net_bytes(pid: int, iface: str = "eth0") -> tuple[int, int]:
    """(rx, tx) bytes of `iface` in the network namespace of `pid`."""
    try:
        for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]:
            name, rest = line.split(":", 1)
            if name.strip() == iface:
                f = rest.split()
                return int(f[0]), int(f[8])
    except (OSError, ValueError):
        pass
    return 0, 0


def blkio_delay_s(cgroup_dir: Path) -> dict[int, float]:
    """Per pid, seconds the tasks of a cgroup (and below) spent blocked on block I/O, from
    the kernel's delay accounting (/proc/<pid>/stat field 42, clock ticks; needs
    kernel.task_delayacct=1, which the backend sets)."""
    hz = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for procs in cgroup_dir.rglob("cgroup.procs"):
        try:
            pids = procs.read_text().split()
        except OSError:
            continue
        for pid in pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                out[int(pid)] = int(stat.rsplit(")", 1)[1].split()[39]) / hz  # field 42
            except (OSError, ValueError, IndexError):
                continue
    return out


@dataclass(frozen=True)
class MigrationResult:
    """One checkpoint/restore: where the container ended, how long it was frozen, bytes moved."""

    ok: bool
    container: Container | None  # where it runs now (the source on a failed move), None if lost
    pause_s: float  # from the checkpoint's start to the restored process running
    bytes_moved: int  # size of the exported checkpoint archive
    error: str = ""


def migrate(ctr: Container, new_name: str, pod_id: str, workdir: Path) -> MigrationResult:
    """Move a running container into another pod by CRIU checkpoint/restore.

    On a failed restore the container is restored from the same archive into its own pod
    under `new_name`, so it keeps running where it was with its state; the failure is
    returned, not raised. A failed checkpoint leaves the container running (podman only
    stops it once the dump succeeded).
    """
    archive = workdir / f"{new_name}.tar.gz"
    start = time.perf_counter()
    try:
        podman("container", "checkpoint", "--export", str(archive), ctr.name)
    except PodmanError as err:
        archive.unlink(missing_ok=True)
        still = _running(ctr.name)
        return MigrationResult(False, still, time.perf_counter() - start, 0, str(err))
    size = archive.stat().st_size
    try:
        podman(
            "container", "restore", "--import", str(archive), "--name", new_name, "--pod", pod_id
        )
        pause = time.perf_counter() - start
        podman("rm", "-f", ctr.name, check=False)
        return MigrationResult(True, inspect(new_name), pause, size)
    except PodmanError as err:
        src_pod = json.loads(podman("inspect", "--type", "container", ctr.name))[0].get("Pod", "")
        podman("rm", "-f", new_name, check=False)
        back: Container | None = None
        try:
            podman(
                "container", "restore", "--import", str(archive), "--name", new_name,
                "--pod", src_pod,
            )  # fmt: skip
            podman("rm", "-f", ctr.name, check=False)
            back = inspect(new_name)
        except PodmanError:
            back = None
        return MigrationResult(False, back, time.perf_counter() - start, size, str(err))
    finally:
        archive.unlink(missing_ok=True)


def _running(name: str) -> Container | None:
    try:
        return inspect(name)
    except (PodmanError, OSError, IndexError, ValueError):
        return None


CGROUP_CONTROLLERS = ("cpu", "cpuacct", "memory", "blkio")
CFS_PERIOD_US = (
    100_000  # CFS bandwidth period (kernel default, Documentation/scheduler/sched-bwc.rst)
)


@dataclass(frozen=True)
class Pod:
    """One emulated host: a pod whose cgroup parent carries the host's CPU and memory quota."""

    name: str
    id: str
    cgroup_parent: str  # e.g. /pregan_tb_h0

    def file(self, controller: str, name: str) -> Path:
        return CGROUP_ROOT / controller / self.cgroup_parent.lstrip("/") / name

    def infra_pid(self) -> int:
        """Pid of the pod's infra container (its network namespace); 0 if the pod is down."""
        info = json.loads(podman("pod", "inspect", self.name))
        infra = info.get("InfraContainerID", "")
        if not infra:
            return 0
        state = json.loads(podman("inspect", "--type", "container", infra))[0]["State"]
        return int(state["Pid"]) if state.get("Running") else 0


def create_pod(name: str, cgroup_parent: str, cpu_cores: float, memory_mb: float) -> Pod:
    """A pod under its own cgroup parent, with the parent's CPU quota and memory limit set
    (v1 CFS quota and memory limit are hierarchical, so they bind the pod as a whole)."""
    podman("pod", "rm", "-f", name, check=False)
    for controller in CGROUP_CONTROLLERS:
        (CGROUP_ROOT / controller / cgroup_parent.lstrip("/")).mkdir(exist_ok=True)
    pod = Pod(name=name, id="", cgroup_parent=cgroup_parent)
    pod.file("cpu", "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
    pod.file("cpu", "cpu.cfs_quota_us").write_text(str(int(cpu_cores * CFS_PERIOD_US)))
    pod.file("memory", "memory.limit_in_bytes").write_text(str(int(memory_mb * 2**20)))
    pod_id = podman("pod", "create", "--name", name, "--cgroup-parent", cgroup_parent)
    podman("pod", "start", name)
    return Pod(name=name, id=pod_id, cgroup_parent=cgroup_parent)


def remove_pod(pod: Pod) -> None:
    """Remove the pod and its containers, then its (now empty) cgroup parent."""
    podman("pod", "rm", "-f", "-t", "0", pod.name, check=False, timeout_s=120)
    for controller in CGROUP_CONTROLLERS:
        root = CGROUP_ROOT / controller / pod.cgroup_parent.lstrip("/")
        for d in sorted(root.rglob("*"), key=lambda p: -len(p.parts)) if root.exists() else []:
            if d.is_dir():
                try:
                    d.rmdir()
                except OSError:
                    pass
        try:
            root.rmdir()
        except OSError:
            pass


def run_worker(
    name: str, pod: Pod, write_mb_s: float | None = None, read_mb_s: float | None = None
) -> Container:
    """Start the demand-following worker in `pod`, under a blkio throttle when given (v1
    throttles bind only the cgroup they are set on, so each container carries its own)."""
    args = ["run", "-d", "--name", name, "--pod", pod.id]
    if write_mb_s:
        args += ["--device-write-bps", f"{BLOCK_DEVICE}:{max(int(write_mb_s * 2**20), 1)}"]
    if read_mb_s:
        args += ["--device-read-bps", f"{BLOCK_DEVICE}:{max(int(read_mb_s * 2**20), 1)}"]
    podman(*args, IMAGE)
    return inspect(name)


def root_block_device() -> str:
    """/dev path of the disk under podman's storage (the device blkio throttles name)."""
    out = subprocess.run(
        ["findmnt", "-n", "-o", "SOURCE", "-T", "/var/lib/containers"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    src = out.stdout.strip().split("[")[0] or "/dev/vda"
    return src if src.startswith("/dev/") else "/dev/vda"


BLOCK_DEVICE = root_block_device()
