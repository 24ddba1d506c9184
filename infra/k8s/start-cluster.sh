#!/usr/bin/env bash
# Start etcd + kube-apiserver + kube-controller-manager on loopback for tests (no kubelet and no
# scheduler: Pods stay Pending, but Deployments get ReplicaSets, ownerReference garbage
# collection and namespace deletion work). Prints the kubeconfig path; stop-cluster.sh stops it.
# Usage: start-cluster.sh STATE_DIR   (ports: API_PORT, default 6443; ETCD_PORT, default 23790)
set -euo pipefail
BIN=${K8S_HOME:-${HOMESIM_CACHE:-$HOME/.cache/homesim}/k8s}/bin
STATE=${1:?usage: start-cluster.sh STATE_DIR}
API_PORT=${API_PORT:-6443}
ETCD_PORT=${ETCD_PORT:-23790}
PEER_PORT=${PEER_PORT:-$((ETCD_PORT + 10))}
mkdir -p "$STATE/pki" "$STATE/etcd" "$STATE/logs"
cd "$STATE/pki"
[[ -f sa.key ]] || openssl genrsa -out sa.key 2048 2>/dev/null
[[ -f sa.pub ]] || openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
[[ -f tokens.csv ]] || echo "$(head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n'),admin,admin,system:masters" >tokens.csv
TOKEN=$(cut -d, -f1 tokens.csv)
"$BIN/etcd" --name homesim --data-dir "$STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
  --initial-cluster "homesim=http://127.0.0.1:$PEER_PORT" >"$STATE/logs/etcd.log" 2>&1 &
echo $! >"$STATE/pids"
"$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
  --cert-dir="$STATE/pki/serving" --token-auth-file="$STATE/pki/tokens.csv" --authorization-mode=RBAC \
  --service-account-key-file="$STATE/pki/sa.pub" --service-account-signing-key-file="$STATE/pki/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc --service-cluster-ip-range=10.0.0.0/24 \
  >"$STATE/logs/apiserver.log" 2>&1 &
echo $! >>"$STATE/pids"
cat >"$STATE/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: homesim-test
  cluster: {server: "https://127.0.0.1:$API_PORT", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: "$TOKEN"}
contexts:
- name: homesim-test
  context: {cluster: homesim-test, user: admin}
current-context: homesim-test
KC
ready() { curl -fsk -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; }
for _ in $(seq 1 240); do ready && break; sleep 0.5; done
ready || { tail -20 "$STATE/logs/apiserver.log" >&2; exit 1; }
"$BIN/kube-controller-manager" --kubeconfig="$STATE/kubeconfig" --leader-elect=false \
  --service-account-private-key-file="$STATE/pki/sa.key" --use-service-account-credentials=false \
  --bind-address=127.0.0.1 --secure-port=0 --port=0 >"$STATE/logs/controller-manager.log" 2>&1 &
echo $! >>"$STATE/pids"
echo "$STATE/kubeconfig"
