#!/usr/bin/env bash
# Install and check the live test bed (issue 19): podman + runc, CRIU 4.1.1 built from the
# Debian trixie source package, a private containers.conf, and the local/pregan-edge image
# (busybox + the static C worker of src/testbed/worker). Idempotent: what is present is kept.
# Everything it builds lives under .testbed/ (git-ignored); /etc and the system's apt sources
# are not touched. Prints one line per missing capability and exits non-zero when the test bed
# cannot run; `--check` only checks. Facts behind each step: ../shared/reference/TESTBED.md.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
TB="$ROOT/.testbed"
CRIU_VERSION="4.1.1"
IMAGE="local/pregan-edge:1"
CHECK_ONLY=0
[[ "${1:-}" == "--check" ]] && CHECK_ONLY=1
mkdir -p "$TB"
log() { echo "[setup_testbed] $*"; }
fail=0
missing() { echo "[setup_testbed] MISSING: $*" >&2; fail=1; }

if [[ $(id -u) -ne 0 ]]; then
  missing "root is needed (podman pods with cgroup parents, CRIU, tc, iptables)"
  exit 1
fi

# 1. packages from the system's own (bookworm) sources.
PKGS=(podman runc busybox-static iptables iproute2 gcc libc6-dev)
need=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if ((${#need[@]})) && ((CHECK_ONLY == 0)); then
  log "apt-get install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >"$TB/apt.log" 2>&1 ||
    { apt-get update -q >>"$TB/apt.log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >>"$TB/apt.log" 2>&1; } ||
    missing "apt-get install ${need[*]} failed (see $TB/apt.log)"
fi
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing "package $p is not installed"; done

# 2. CRIU 4.1.1 from the trixie source package (bookworm's 3.17 cannot dump on kernel 6.x:
#    "vdso: Unexpected rt vDSO area bounds"; trixie's binary needs libc6 >= 2.38).
CRIU="$TB/bin/criu"
if [[ ! -x "$CRIU" ]] && ((CHECK_ONLY == 0)); then
  log "building CRIU $CRIU_VERSION from the trixie source package into $TB"
  mkdir -p "$TB/apt/lists/partial" "$TB/src" "$TB/bin"
  echo "deb-src http://deb.debian.org/debian trixie main" >"$TB/apt/sources.list"
  APT_OPTS=(-o "Dir::Etc::sourcelist=$TB/apt/sources.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$TB/apt/lists" -o "APT::Get::List-Cleanup=0")
  BUILD_DEPS=(build-essential pkg-config dpkg-dev libprotobuf-dev libprotobuf-c-dev
    protobuf-c-compiler protobuf-compiler python3-protobuf libnl-3-dev libnet1-dev libcap-dev
    libbsd-dev libaio-dev libgnutls28-dev libnftables-dev uuid-dev libdrm-dev asciidoc-base)
  {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${BUILD_DEPS[@]}" &&
      apt-get "${APT_OPTS[@]}" update &&
      src_version="$(apt-cache "${APT_OPTS[@]}" showsrc criu | awk '/^Version:/ {print $2; exit}')" &&
      [[ "$src_version" == "$CRIU_VERSION"-* ]] &&
      (cd "$TB/src" && { apt-get "${APT_OPTS[@]}" source --download-only "criu=$src_version" || true; } &&
        # Only the upstream tarball is needed (`make criu`); the mirror here has served it
        # while answering 404 for the .dsc and the Debian diff, so those are not required.
        ls criu_"$CRIU_VERSION".orig.tar.* >/dev/null &&
        rm -rf "criu-$CRIU_VERSION" && tar xf criu_"$CRIU_VERSION".orig.tar.*) &&
      make -C "$TB/src/criu-$CRIU_VERSION" -j"$(nproc)" criu &&
      install -m 0755 "$TB/src/criu-$CRIU_VERSION/criu/criu" "$CRIU"
  } >"$TB/criu-build.log" 2>&1 || missing "CRIU $CRIU_VERSION build failed (see $TB/criu-build.log)"
fi
if [[ -x "$CRIU" ]]; then
  # podman and runc find criu on PATH: the backend and the tests put $TB/bin first.
  "$CRIU" check >"$TB/criu-check.log" 2>&1 || missing "criu check failed (see $TB/criu-check.log)"
else
  missing "CRIU $CRIU_VERSION is not built at $CRIU"
fi

# 3. private containers.conf: runc (crun cannot run on cgroups v1 hybrid), ulimits root may set.
cat >"$TB/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$TB/containers.conf" PATH="$TB/bin:$PATH"

# 4. the base image: busybox rootfs + the static worker, imported without a registry.
WORKER_SRC="$ROOT/src/testbed/worker/worker.c"
if command -v gcc >/dev/null && command -v podman >/dev/null; then
  stamp="$(sha256sum "$WORKER_SRC" | cut -c1-16)"
  if ! podman image exists "$IMAGE" || [[ "$(cat "$TB/image.stamp" 2>/dev/null)" != "$stamp" ]]; then
    if ((CHECK_ONLY == 0)); then
      log "building image $IMAGE"
      rm -rf "$TB/rootfs" && mkdir -p "$TB/rootfs"/{bin,etc,run,tmp,var,proc,sys,dev}
      (
        set -e
        cp /bin/busybox "$TB/rootfs/bin/busybox" &&
          chroot "$TB/rootfs" /bin/busybox --install -s /bin &&
          echo "root:x:0:0:root:/root:/bin/sh" >"$TB/rootfs/etc/passwd" &&
          gcc -static -O2 -Wall -o "$TB/rootfs/bin/worker" "$WORKER_SRC" &&
          { podman rmi -f "$IMAGE" >/dev/null 2>&1 || true; }
        tar -C "$TB/rootfs" -c . | podman import --change 'CMD ["/bin/worker"]' - "$IMAGE"
        echo "$stamp" >"$TB/image.stamp"
      ) >"$TB/image.log" 2>&1 || missing "image $IMAGE could not be built (see $TB/image.log)"
    else
      missing "image $IMAGE is absent or older than $WORKER_SRC"
    fi
  fi
fi

# 5. the capabilities the backend uses, checked for real (one throwaway container).
if command -v podman >/dev/null && podman image exists "$IMAGE" 2>/dev/null; then
  name="pregan-setup-probe-$$"
  if podman run -d --rm --name "$name" --cpus 0.5 --memory 64m "$IMAGE" >/dev/null 2>"$TB/probe.log"; then
    pid="$(podman inspect -f '{{.State.Pid}}' "$name")"
    nsenter -t "$pid" -n tc qdisc add dev eth0 root tbf rate 8mbit burst 32kb latency 50ms \
      >>"$TB/probe.log" 2>&1 || missing "tc tbf inside a container's network namespace failed"
    nsenter -t "$pid" -n iptables -A OUTPUT -m statistic --mode random --probability 0.1 -j DROP \
      >>"$TB/probe.log" 2>&1 || missing "iptables statistic DROP inside a container failed"
    if [[ -x "$CRIU" ]]; then
      podman container checkpoint --export "$TB/probe.tar.gz" "$name" >>"$TB/probe.log" 2>&1 ||
        missing "podman checkpoint with CRIU failed (see $TB/probe.log)"
      rm -f "$TB/probe.tar.gz"
    fi
    podman rm -f "$name" >/dev/null 2>&1
  else
    missing "podman run $IMAGE failed (see $TB/probe.log)"
  fi
fi

if ((fail)); then
  log "the test bed cannot run here; its tests skip with the lines above"
  exit 1
fi
log "test bed ready: CONTAINERS_CONF=$TB/containers.conf, criu $("$CRIU" --version | head -1)"
