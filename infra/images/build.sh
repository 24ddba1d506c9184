#!/usr/bin/env bash
# Build homesim's container images with podman, without any image registry:
#
#   localhost/homesim-base:bookworm    Debian 12 minbase + python3 (debootstrap, then podman import)
#   localhost/homesim-device:latest    every device kind, the clock and the ledger
#   localhost/homesim-router:latest    Crossbar in its own venv + infra/router/entry.py
#   localhost/homesim-operator:latest  kopf + homesim.operator
#
# Usage: bash infra/images/build.sh [device|router|operator ...]   (default: all three)
#
# Idempotent and incremental: the base image is built once (its rootfs tarball is also kept in
# $HOMESIM_CACHE/podman/ so a wiped image store re-imports it in seconds); the other images use
# podman's layer cache, and pip's download cache lives in $HOMESIM_CACHE/podman/pip. Podman runs
# with the containers.conf written below (runc, explicit ulimits: crun fails on this kernel).
# Env: HOMESIM_CACHE (default ~/.cache/homesim), HOMESIM_BASE_IMAGE, DEBIAN_MIRROR,
# HOMESIM_REBUILD_BASE=1 (rebuild the base image and its tarball).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD

CACHE=${HOMESIM_CACHE:-$HOME/.cache/homesim}
PODMAN_CACHE=$CACHE/podman
BASE=${HOMESIM_BASE_IMAGE:-localhost/homesim-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_TAR=$PODMAN_CACHE/homesim-base-bookworm.tar
mkdir -p "$PODMAN_CACHE/pip"

conf=$PODMAN_CACHE/containers.conf
want='[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"'
[[ -f $conf && "$(cat "$conf")" == "$want" ]] || printf '%s\n' "$want" >"$conf"
export CONTAINERS_CONF=$conf

# pip inside the builds trusts the host's CA bundle (e.g. a TLS-intercepting proxy's CA); the
# bundle is mounted for the build only, never copied into an image
ca=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
ca_args=()
if [[ -f $ca ]]; then
  ca_args=(--volume "$ca:/run/homesim-build/ca.crt:ro" --build-arg HOST_CA_BUNDLE=/run/homesim-build/ca.crt)
fi

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
say() { printf '[build.sh] %s\n' "$*" >&2; }
T0=$(now)

# ------------------------------------------------------------------------------ base image
if [[ ${HOMESIM_REBUILD_BASE:-0} == 1 ]]; then
  podman image rm -f "$BASE" >/dev/null 2>&1 || true
  rm -f "$BASE_TAR"
fi
if ! podman image exists "$BASE"; then
  t=$(now)
  if [[ ! -s $BASE_TAR ]]; then
    # debootstrap needs root (chroot, device nodes): sudo when we are not root
    as_root=(); [[ $(id -u) -eq 0 ]] || as_root=(sudo)
    debootstrap=$(command -v debootstrap || echo /usr/sbin/debootstrap)
    [[ -x $debootstrap ]] || { say "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
    say "building $BASE with debootstrap from $MIRROR (about a minute)"
    work=$(mktemp -d "$PODMAN_CACHE/rootfs.XXXXXX")
    trap '"${as_root[@]}" rm -rf "$work"' EXIT
    "${as_root[@]}" "$debootstrap" --variant=minbase --include=python3,python3-venv,ca-certificates \
      bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    r=$work/rootfs
    # what a container never needs: downloaded .debs, apt lists, docs, man pages, locales
    "${as_root[@]}" sh -c 'cd "$1" && rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin \
      var/lib/apt/lists/* usr/share/doc/* usr/share/man/* usr/share/info/* usr/share/locale/* \
      var/log/* tmp/* root/.cache' sh "$r"
    "${as_root[@]}" tar --numeric-owner -C "$r" -cf - . >"$BASE_TAR.tmp"
    mv "$BASE_TAR.tmp" "$BASE_TAR"
    "${as_root[@]}" rm -rf "$work"
    trap - EXIT
  else
    say "importing $BASE from $BASE_TAR"
  fi
  podman import --quiet --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
    "$BASE_TAR" "$BASE" >/dev/null
  say "base image $BASE: $(took "$t")"
else
  say "base image $BASE: present"
fi

# ------------------------------------------------------------------------------ images
build() {  # build NAME: localhost/homesim-NAME:latest from infra/images/Containerfile.NAME
  local name=$1 t log=$PODMAN_CACHE/build-$1.log
  t=$(now)
  say "building localhost/homesim-$name:latest (log: $log)"
  if ! podman build --layers \
    --file "infra/images/Containerfile.$name" \
    --ignorefile infra/images/containerignore \
    --tag "localhost/homesim-$name:latest" \
    --build-arg "BASE=$BASE" \
    --build-arg "DEVICE_IMAGE=localhost/homesim-device:latest" \
    --build-arg PIP_CACHE=on \
    --volume "$PODMAN_CACHE/pip:/root/.cache/pip" \
    "${ca_args[@]}" \
    "$REPO" >"$log" 2>&1; then
    tail -40 "$log" >&2
    say "building localhost/homesim-$name:latest failed (log: $log)"
    exit 1
  fi
  say "localhost/homesim-$name:latest: $(took "$t")"
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(device router operator)
for name in "${targets[@]}"; do
  case $name in
    device | router | operator) build "$name" ;;
    *) say "unknown image '$name' (device, router, operator)"; exit 2 ;;
  esac
done
# older builds of our images (untagged by the builds above; labelled io.homesim.image)
podman image prune --force --filter label=io.homesim.image >/dev/null || true
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^localhost/homesim-' >&2 || true
say "total: $(took "$T0")"
