#!/usr/bin/env bash
# A real single-node SLURM cluster on 127.0.0.1 for tests and trying profiles/slurm-local:
# munge, MariaDB, slurmdbd (accounting, which the executor plugin's sacct status checks
# need), slurmctld and slurmd, with one fake GPU (gres gpu:1 on /dev/null; jobs that ask
# for it get CUDA_VISIBLE_DEVICES=0 but no CUDA device).
#
#   scripts/local_slurm.sh install   apt-get the packages (root, Debian/Ubuntu)
#   scripts/local_slurm.sh up        write the config for this host, start the daemons in order
#   scripts/local_slurm.sh down      stop the daemons by their PID files
#   scripts/local_slurm.sh status    exit 0 when the node is up and accepts jobs
#
# Cluster `localcluster`, partition `debug`, account `testacct` (root is its user). The daemons, and so
# the jobs slurmd starts, run at nice -5: on a machine that does other work too (the project's other
# tests run beside the SLURM ones), jobs and the cluster's answers are not starved, as on a node that
# runs only jobs.
# `up` refuses to overwrite a /etc/slurm/slurm.conf that it did not write.
set -euo pipefail

PACKAGES=(slurm-wlm slurmctld slurmd slurm-client slurmdbd munge mariadb-server mariadb-client)
CONF_DIR=/etc/slurm
MARK="# written by prunebench scripts/local_slurm.sh"
LOG_DIR=/var/log/slurm
CLUSTER=localcluster
ACCOUNT=testacct
PARTITION=debug
DB_SOCKET=/run/mysqld/mysqld.sock
NICE="nice -n -5"  # the daemons' priority (see above); jobs inherit slurmd's
PIDS=(/run/slurmd.pid /run/slurmctld.pid /run/slurmdbd.pid /run/mysqld/mysqld.pid /run/munge/munged.pid)

say() { echo "local_slurm: $*" >&2; }
die() { say "$*"; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2 s until it succeeds
wait_for() {
    local limit=$1 what=$2; shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            die "$what not ready after ${limit}s (logs: $LOG_DIR, /run/mysqld/mariadbd.log)"
        fi
        sleep 0.2
    done
}

need_root() { [ "$(id -u)" = 0 ] || die "needs root (it writes $CONF_DIR and starts system daemons)"; }

install() {
    need_root
    command -v apt-get >/dev/null || die "apt-get not found; install SLURM ${PACKAGES[*]} by other means"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
    # the packages' postinst creates the munge key and the MariaDB data directory; do it if it did not
    [ -s /etc/munge/munge.key ] || { mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
        || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; }
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
}

installed() {
    local tool
    for tool in munged mariadbd slurmdbd slurmctld slurmd sbatch sacct sacctmgr; do
        command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin" command -v "$tool" >/dev/null || return 1
    done
}

write_config() {
    local host cpus mem
    host=$(hostname -s)
    cpus=$(nproc)
    mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)  # MB, leave room for the rest
    if [ -e "$CONF_DIR/slurm.conf" ] && ! grep -qF "$MARK" "$CONF_DIR/slurm.conf"; then
        die "$CONF_DIR/slurm.conf exists and was not written by this script; not touching a real cluster's config"
    fi
    mkdir -p "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
    cat >"$CONF_DIR/slurm.conf" <<EOF
$MARK for host $host
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
MinJobAge=300
KillWait=10
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$CONF_DIR/gres.conf" <<EOF
$MARK
NodeName=$host Name=gpu File=/dev/null
EOF
    local password
    if [ -f "$CONF_DIR/slurmdbd.conf" ] && grep -qF "$MARK" "$CONF_DIR/slurmdbd.conf"; then
        password=$(sed -n 's/^StoragePass=//p' "$CONF_DIR/slurmdbd.conf")
    else
        password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
    fi
    (umask 077; cat >"$CONF_DIR/slurmdbd.conf" <<EOF
$MARK
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
LogFile=$LOG_DIR/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=$password
EOF
    )
    echo "$password"
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_idle() { sinfo -h -o %t | grep -qE '^(idle|mix|alloc)'; }

up() {
    need_root
    export PATH="$PATH:/usr/sbin"
    installed || die "SLURM is not installed; run: $0 install"
    if running /run/slurmd.pid && running /run/slurmctld.pid && node_idle; then
        say "already up"
        return 0
    fi
    local password
    password=$(write_config)
    mkdir -p /run/munge /run/mysqld
    chown munge:munge /run/munge
    chown mysql:mysql /run/mysqld

    running /run/munge/munged.pid || runuser -u munge -- munged
    wait_for 20 munge sh -c 'munge -n | unmunge'

    if ! running /run/mysqld/mysqld.pid; then
        [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
        setsid $NICE runuser -u mysql -- mariadbd --datadir=/var/lib/mysql --socket=$DB_SOCKET \
            --pid-file=/run/mysqld/mysqld.pid --bind-address=127.0.0.1 \
            </dev/null >/run/mysqld/mariadbd.log 2>&1 &
    fi
    wait_for 60 MariaDB mysqladmin --socket=$DB_SOCKET ping
    mysql --socket=$DB_SOCKET <<EOF
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$password';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF

    running /run/slurmdbd.pid || $NICE slurmdbd
    wait_for 60 slurmdbd sacctmgr -n list cluster
    sacctmgr -nP list cluster format=cluster | grep -qx $CLUSTER || sacctmgr -i add cluster $CLUSTER >/dev/null
    sacctmgr -nP list account format=account | grep -qx $ACCOUNT \
        || sacctmgr -i add account $ACCOUNT Description=test Organization=test >/dev/null
    sacctmgr -nP list assoc user=root format=account | grep -qx $ACCOUNT \
        || sacctmgr -i add user root Account=$ACCOUNT DefaultAccount=$ACCOUNT >/dev/null

    running /run/slurmctld.pid || $NICE slurmctld
    wait_for 60 slurmctld sh -c 'scontrol ping | grep -q UP'
    running /run/slurmd.pid || $NICE slurmd
    wait_for 60 "slurmd (node idle)" node_idle
    say "up: cluster $CLUSTER, partition $PARTITION, account $ACCOUNT, node $(hostname -s) ($(nproc) CPUs, 1 fake GPU)"
}

down() {
    local pidfile pid
    for pidfile in "${PIDS[@]}"; do
        running "$pidfile" || continue
        pid=$(cat "$pidfile")
        kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            say "$pidfile: PID $pid did not stop in 10 s; sending SIGKILL"
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
    say "down"
}

status() {
    export PATH="$PATH:/usr/sbin"
    running /run/slurmctld.pid && running /run/slurmd.pid && running /run/slurmdbd.pid && node_idle
}

case "${1:-}" in
    install) install ;;
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 install|up|down|status" >&2; exit 2 ;;
esac
