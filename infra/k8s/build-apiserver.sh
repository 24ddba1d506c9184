#!/usr/bin/env bash
# Build a real kube-apiserver + kube-controller-manager (Kubernetes 1.20.2) from Debian bookworm's
# own source package, plus Debian's etcd, into $K8S_HOME/bin (default ~/.cache/homesim/k8s/bin).
# Only Debian's package mirror is needed. Idempotent: returns at once when the binaries exist.
# ~8-9 min once on 2 cores (peak ~1.3 GB RAM). Used by tests/k8s (pytest fixture) and .ci/run.
set -euo pipefail
K8S_HOME=${K8S_HOME:-${HOMESIM_CACHE:-$HOME/.cache/homesim}/k8s}
BIN=$K8S_HOME/bin
if [[ -x $BIN/kube-apiserver && -x $BIN/kube-controller-manager && -x $BIN/etcd ]]; then
  echo "$BIN"; exit 0
fi
mkdir -p "$BIN" "$K8S_HOME/apt/lists/partial" "$K8S_HOME/apt/cache/archives/partial" "$K8S_HOME/src"
# a private source list: the machine's apt configuration stays untouched
cat >"$K8S_HOME/apt/sources.list" <<'L'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian-security bookworm-security main
deb-src http://deb.debian.org/debian bookworm main
L
APT=(-o "Dir::Etc::SourceList=$K8S_HOME/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
     -o "Dir::State::Lists=$K8S_HOME/apt/lists" -o "Dir::Cache=$K8S_HOME/apt/cache")
apt-get "${APT[@]}" update -qq
DEBIAN_FRONTEND=noninteractive apt-get "${APT[@]}" install -y -qq --no-install-recommends \
  etcd-server golang-1.19-go rsync make golang-github-modern-go-reflect2-dev openssl >/dev/null
ln -sf "$(command -v etcd)" "$BIN/etcd"
cd "$K8S_HOME/src"
# Debian's orig tarball is the full upstream 1.20.2 tree, vendor/ included
apt-get "${APT[@]}" source --download-only -qq kubernetes=1.20.5+really1.20.2-1.1+deb12u1
rm -rf kubernetes-1.20.2
tar xzf kubernetes_1.20.5+really1.20.2.orig.tar.gz
cd kubernetes-1.20.2
# vendored reflect2 1.0.1 does not build with Go >= 1.18: take Debian's 1.0.2
rm -rf vendor/github.com/modern-go/reflect2
mkdir vendor/github.com/modern-go/reflect2
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.{go,s} vendor/github.com/modern-go/reflect2/
rm -f vendor/github.com/modern-go/reflect2/*_test.go
export PATH=/usr/lib/go-1.19/bin:$PATH GOFLAGS=-mod=vendor CGO_ENABLED=0 GOPROXY=off
make WHAT=cmd/kube-apiserver >"$K8S_HOME/build-apiserver.log" 2>&1
make WHAT=cmd/kube-controller-manager >"$K8S_HOME/build-controller-manager.log" 2>&1
cp _output/bin/kube-apiserver _output/bin/kube-controller-manager "$BIN/"
cd .. && rm -rf kubernetes-1.20.2 "$HOME/.cache/go-build"
echo "$BIN"
