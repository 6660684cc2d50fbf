#!/usr/bin/env bash
# Stops the daemons that tests/slurm/start_cluster.sh started: slurmd, slurmctld, then munged.
# Jobs still queued or running are cancelled. Packages and /etc/slurm/slurm.conf stay.
set -uo pipefail

say() { echo "stop_cluster: $*" >&2; }

stop() {  # stop <name> <pid file>: SIGTERM from the pid file, wait up to 20 s, then SIGKILL
  local name=$1 pidfile=$2 pid
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping $name ($pid)"
    kill "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name did not stop; killing it"
      kill -9 "$pid" 2>/dev/null
    fi
  fi
  rm -f "$pidfile"
}

if ! grep -q "Written by seedscope" /etc/slurm/slurm.conf 2>/dev/null; then
  say "/etc/slurm/slurm.conf is not start_cluster.sh's: leaving this cluster alone"
  exit 0
fi
if command -v scancel >/dev/null && scontrol ping 2>/dev/null | grep -q "is UP"; then
  scancel --user="$(id -un)" 2>/dev/null || true
fi
stop slurmd /run/slurmd.pid
stop slurmctld /run/slurmctld.pid
stop munged /run/munge/munged.pid
exit 0
