#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for tests and for trying `coordrl ab --executor
# slurm` without a real cluster: Debian's slurm-wlm + munge, this host (`hostname -s`) as the
# controller and the only compute node, with the node's real CPUs and memory (`slurmd -C`).
# Idempotent: installs what is missing, writes the configuration only when it changed, starts
# only the daemons that are not running, then waits until `sinfo` shows the partition up.
# Needs root. Usage: scripts/slurm-local.sh [--check]   (--check: only say whether a cluster answers)
set -euo pipefail

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: $*" >&2; exit 1; }

cluster_up() { command -v sinfo >/dev/null 2>&1 && timeout 10 sinfo -h -o '%a' 2>/dev/null | grep -q up; }

if [ "${1:-}" = "--check" ]; then
  if cluster_up; then say "a cluster answers: $(sinfo -h -o '%P %a %D %t' | tr '\n' ' ')"; exit 0; fi
  say "no Slurm cluster answers"; exit 1
fi
[ "$(id -u)" = 0 ] || die "needs root (it installs packages and starts munged, slurmctld and slurmd); run it with sudo"

# 1. Packages.
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  say "installing slurm-wlm and munge (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null; }
fi

# 2. munge: a key, the munge user's directories, the daemon.
mkdir -p /etc/munge /var/log/munge /run/munge /var/lib/munge
if [ ! -s /etc/munge/munge.key ]; then
  say "generating /etc/munge/munge.key"
  head -c 1024 /dev/urandom >/etc/munge/munge.key
fi
chown -R munge:munge /etc/munge /var/log/munge /run/munge /var/lib/munge
chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "starting munged"
  su -s /bin/sh munge -c munged
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || die "munged does not answer (see /var/log/munge/munged.log)"
fi

# 3. slurm.conf: this host, its real CPUs and memory as slurmd sees them.
host=$(hostname -s)
node_line=$(slurmd -C | head -n 1)
case "$node_line" in NodeName=*) ;; *) die "slurmd -C did not describe this node: $node_line" ;; esac
node_line="${node_line/#NodeName=* CPUs=/NodeName=$host CPUs=}"
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
conf=$(cat <<EOF
# Written by coordconv-rl scripts/slurm-local.sh: a one-node cluster on $host.
ClusterName=local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
KillWait=10
$node_line State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
)
changed=0
if [ ! -f /etc/slurm/slurm.conf ] || [ "$(cat /etc/slurm/slurm.conf)" != "$conf" ]; then
  say "writing /etc/slurm/slurm.conf ($node_line)"
  printf '%s\n' "$conf" >/etc/slurm/slurm.conf
  changed=1
fi

# 4. The daemons (they daemonize). A changed configuration restarts running ones.
# Each daemon is known by its own pid file, never by name.
running() { [ -s "/run/$1.pid" ] && kill -0 "$(cat "/run/$1.pid")" 2>/dev/null; }
for d in slurmctld slurmd; do
  if running "$d" && [ "$changed" = 1 ]; then
    say "restarting $d (configuration changed)"
    kill "$(cat "/run/$d.pid")" || true
    for _ in $(seq 50); do running "$d" || break; sleep 0.1; done
  fi
  if ! running "$d"; then
    say "starting $d"
    "$d"
  fi
done

# 5. Wait until the partition is up and the node usable.
for _ in $(seq 60); do
  if cluster_up && sinfo -h -o '%t' | grep -Eq 'idle|mix|alloc'; then
    say "cluster up: $(sinfo -h -o '%P %a %D %t %c CPUs' | tr '\n' ' ')"
    exit 0
  fi
  sleep 0.5
done
die "the partition did not come up in 30 s (see /var/log/slurm/slurmctld.log and slurmd.log)"
