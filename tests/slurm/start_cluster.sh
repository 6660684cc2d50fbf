#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for tests and trying the slurm profile out.
#
#   tests/slurm/start_cluster.sh    (as root; prints the partition name when the node is idle)
#   tests/slurm/stop_cluster.sh
#
# Installs Debian's slurm-wlm and munge with apt if they are missing (a policy-rc.d that exits 101
# keeps apt from starting daemons), writes a cgroup-free, accounting-free slurm.conf for this
# machine (CPUs from nproc, RealMemory from `slurmd -C`), then starts munged, slurmctld and slurmd
# directly (no systemd) and waits until `sinfo` shows the node idle. A cluster that already
# answers is reused as it is. Every finished job is logged in one line to /var/log/slurm/jobcomp.log
# (JobCompType=jobcomp/filetxt), which the tests read. Exit status 10: slurm could not be installed.
set -euo pipefail

PARTITION=${SEEDSCOPE_SLURM_PARTITION:-cpu}
CONF_DIR=/etc/slurm
LOG_DIR=/var/log/slurm
JOBCOMP_LOG=$LOG_DIR/jobcomp.log
TIMEOUT=${SEEDSCOPE_SLURM_TIMEOUT:-180}

say() { echo "start_cluster: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "needs root (installs packages, starts daemons)"
  exit 2
fi

default_partition() {  # the partition sinfo marks with *, else the first
  sinfo -h -o %P | awk '/\*$/ {sub(/\*$/, ""); print; found=1; exit} NR==1 {first=$0} END {if (!found) print first}'
}

if command -v sinfo >/dev/null && scontrol ping 2>/dev/null | grep -q "is UP" &&
   sinfo -h -o %t 2>/dev/null | grep -qx "idle\|mix\|alloc"; then
  say "a SLURM cluster already answers; reusing it"
  default_partition
  exit 0
fi

# 1. Packages
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
   ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || { say "slurm is not installed and there is no apt-get"; exit 10; }
  say "installing slurm-wlm and munge with apt"
  policy=/usr/sbin/policy-rc.d
  backup=""
  if [ -e "$policy" ]; then backup=$(mktemp); cp -p "$policy" "$backup"; fi
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  restore() { if [ -n "$backup" ]; then mv "$backup" "$policy"; else rm -f "$policy"; fi; }
  trap restore EXIT
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null; }; then
    say "apt could not install slurm-wlm and munge"
    exit 10
  fi
  restore
  trap - EXIT
fi

# 2. munge: one key, one daemon
if [ ! -s /etc/munge/munge.key ]; then
  say "creating a munge key"
  mungekey --create --force 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chmod 755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "starting munged"
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.2; done
fi
munge -n | unmunge >/dev/null || { say "munge does not work"; exit 4; }

# 3. slurm.conf for this machine
HOST=$(hostname -s)
CPUS=$(nproc)
MEMORY=$(slurmd -C | tr ' ' '\n' | sed -n 's/^RealMemory=//p')
mkdir -p "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
cat > "$CONF_DIR/slurm.conf" <<CONF
# Written by seedscope's tests/slurm/start_cluster.sh: one node, no cgroups, no accounting.
ClusterName=seedscope
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP_LOG
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MinJobAge=300
ReturnToService=2
SlurmdTimeout=300
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF

# 4. Daemons
say "starting slurmctld and slurmd ($HOST: $CPUS CPUs, $MEMORY MB)"
# -c: a controller this script starts owns no jobs yet. State saved by an earlier cluster whose
# processes were killed (a cancelled test run) holds jobs that would keep the node allocated.
pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld -c
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd
waited=0
until sinfo -h -n "$HOST" -o %t 2>/dev/null | grep -qx idle; do
  if [ "$waited" -ge "$TIMEOUT" ]; then
    say "the node is not idle after ${TIMEOUT}s:"
    sinfo -N -l >&2 || true
    tail -n 20 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
    exit 5
  fi
  state=$(sinfo -h -n "$HOST" -o %t 2>/dev/null || true)
  case "$state" in
    down*|drain*|drng*) scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 1
  waited=$((waited + 1))
done
say "node $HOST is idle after ${waited}s; partition $PARTITION"
echo "$PARTITION"
