#!/usr/bin/env bash
# Stop what start-cluster.sh started in STATE_DIR (newest first; SIGKILL after 10 s).
set -u
STATE=${1:?usage: stop-cluster.sh STATE_DIR}
[[ -f $STATE/pids ]] || exit 0
tac "$STATE/pids" | while read -r pid; do
  kill "$pid" 2>/dev/null || continue
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null
done
rm -f "$STATE/pids"
