#!/usr/bin/env bash
# Start/stop a throw-away single-node SLURM cluster on this (Debian) machine.
#
#   scripts/slurm-cluster.sh start    # install pkgs if needed, write config, start daemons, wait for idle node
#   scripts/slurm-cluster.sh stop     # cancel jobs, stop slurmd, slurmctld, munged
#   scripts/slurm-cluster.sh status   # print sinfo (exit 0) or "not running" (exit 1)
#
# Must run as root. Works without systemd and without cgroups
# (proctrack/linuxproc, task/none). No slurmdbd: `sacct` does not work; use
# `squeue --states=all` (MinJobAge keeps finished jobs visible for a while) and
# the job-completion log ($JOBCOMP_LOG, one line per finished job: JobId, Name,
# JobState, WorkDir, ExitCode, ...) instead.
#
# Limits are enforced as on a real cluster: the time limit (sbatch -t, the
# rules' `runtime`) by slurmctld, which checks about every 30 s; memory (--mem,
# the rules' `mem_mb`) without cgroups, by slurmstepd polling each step's RSS
# every second (JobAcctGatherParams=OverMemoryKill): a step over its limit is
# killed with "Exceeded job memory limit" in the job's log and the job ends
# FAILED (on a cluster with cgroups the kernel kills it and SLURM says
# OUT_OF_MEMORY).
#
# The node offers fake GPUs (gres gpu:N, each backed by a character device
# such as /dev/null), so jobs submitted with --gpus=1 run and see
# CUDA_VISIBLE_DEVICES=0 (or 1, ...); they find no CUDA device and fall back
# to the CPU. N defaults to the CPU count, so GPU jobs can run side by side.
#
# Environment overrides (all optional):
#   SLURM_CLUSTER_PARTITION   partition name            (default: gpu, as in profiles/slurm)
#   SLURM_CLUSTER_MIN_JOB_AGE MinJobAge in seconds      (default: 300)
#   SLURM_CLUSTER_TIMEOUT     seconds to wait for node  (default: 60)
#   SLURM_CLUSTER_GPUS        fake GPUs on the node     (default: CPU count, at most 4)
set -euo pipefail

PROG=$(basename "$0")
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
GRES_CONF=$CONF_DIR/gres.conf
MARKER="# Managed by starlight scripts/slurm-cluster.sh -- regenerated on every start."
RUN_DIR=/run/slurm
CTLD_PID=$RUN_DIR/slurmctld.pid
SLURMD_PID=$RUN_DIR/slurmd.pid
CTLD_SPOOL=/var/spool/slurmctld
SLURMD_SPOOL=/var/spool/slurmd
LOG_DIR=/var/log/slurm
CTLD_LOG=$LOG_DIR/slurmctld.log
SLURMD_LOG=$LOG_DIR/slurmd.log
JOBCOMP_LOG=$LOG_DIR/jobcomp.log
MUNGE_KEY=/etc/munge/munge.key
MUNGE_RUN=/run/munge
MUNGE_PID=$MUNGE_RUN/munged.pid
MUNGE_LOG=/var/log/munge/munged.log
PARTITION=${SLURM_CLUSTER_PARTITION:-gpu}
MIN_JOB_AGE=${SLURM_CLUSTER_MIN_JOB_AGE:-300}
TIMEOUT=${SLURM_CLUSTER_TIMEOUT:-60}
PACKAGES=(slurmctld slurmd slurm-client munge)

# The jobstep plugin and sbatch inherit the caller's environment; make sure a
# stray SLURM_CONF does not point our client commands elsewhere.
unset SLURM_CONF
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

say() { echo "$PROG: $*"; }
die() { echo "$PROG: error: $*" >&2; exit 1; }

# Print the last lines of the given log files to stderr.
log_tail() {
    local f
    for f in "$@"; do
        if [[ -s $f ]]; then
            echo "---- last lines of $f ----" >&2
            tail -n 25 "$f" >&2 || true
        fi
    done
}

# alive PID: process exists and is not a zombie (works for non-root callers,
# unlike kill -0 on root-owned processes).
alive() {
    local st
    [[ -r /proc/$1/stat ]] || return 1
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)
    [[ -n $st && $st != Z ]]
}

# pid_of PIDFILE COMM -> prints pid if the pidfile names a live process whose
# command name is COMM (guards against stale pidfiles / recycled pids).
pid_of() {
    local pidfile=$1 comm=$2 pid
    [[ -r $pidfile ]] || return 1
    pid=$(tr -dc '0-9' <"$pidfile" 2>/dev/null || true)
    [[ -n $pid ]] || return 1
    alive "$pid" || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null || true) == "$comm" ]] || return 1
    echo "$pid"
}

is_running() { pid_of "$1" "$2" >/dev/null; }

# stop_daemon NAME PIDFILE: SIGTERM, wait up to 30 s, then SIGKILL.
stop_daemon() {
    local name=$1 pidfile=$2 pid i
    if ! pid=$(pid_of "$pidfile" "$name"); then
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        say "$name (pid $pid) did not exit after SIGTERM, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
        alive "$pid" && die "could not stop $name (pid $pid)"
    fi
    rm -f "$pidfile"
}

require_root() {
    [[ $(id -u) -eq 0 ]] || die "must be run as root"
}

ensure_packages() {
    local missing=0 cmd
    for cmd in slurmctld slurmd sinfo squeue sbatch scontrol munged munge; do
        command -v "$cmd" >/dev/null 2>&1 || missing=1
    done
    ((missing)) || return 0
    command -v apt-get >/dev/null || die "SLURM is not installed and apt-get is not available"
    say "installing ${PACKAGES[*]} ..."
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${PACKAGES[@]}" >/tmp/slurm-cluster-apt.log 2>&1; then
        apt-get update >>/tmp/slurm-cluster-apt.log 2>&1 || true
        apt-get install -y --no-install-recommends "${PACKAGES[@]}" >>/tmp/slurm-cluster-apt.log 2>&1 ||
            { tail -n 20 /tmp/slurm-cluster-apt.log >&2; die "apt-get install ${PACKAGES[*]} failed (log: /tmp/slurm-cluster-apt.log)"; }
    fi
}

start_munge() {
    if is_running "$MUNGE_PID" munged; then
        return 0
    fi
    getent passwd munge >/dev/null || die "user 'munge' does not exist (is the munge package installed?)"
    install -d -m 0700 -o munge -g munge /etc/munge
    if [[ ! -s $MUNGE_KEY ]]; then
        if command -v mungekey >/dev/null 2>&1; then
            mungekey --create --keyfile="$MUNGE_KEY" --force >/dev/null
        else
            dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
        fi
    fi
    chown munge:munge "$MUNGE_KEY"
    chmod 0400 "$MUNGE_KEY"
    install -d -m 0755 -o munge -g munge "$MUNGE_RUN"
    install -d -m 0700 -o munge -g munge /var/log/munge
    install -d -m 0711 -o munge -g munge /var/lib/munge
    rm -f "$MUNGE_PID"
    # A socket left behind by a killed munged makes the new one refuse to
    # start ("socket is in use") only if something still listens; --force
    # takes over a stale socket.
    if ! runuser -u munge -- /usr/sbin/munged --force </dev/null >/dev/null 2>&1 9>&-; then
        log_tail "$MUNGE_LOG"
        die "munged failed to start"
    fi
    local i
    for ((i = 0; i < 50; i++)); do
        if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    log_tail "$MUNGE_LOG"
    die "munged started but 'munge -n | unmunge' fails"
}

# Emit the node hardware description, derived from `slurmd -C`.
node_hw() {
    local hw cpus boards sockets cores threads mem
    hw=$(slurmd -C 2>/dev/null | head -n 1 || true)
    field() { sed -n "s/.*[[:space:]]$1=\([0-9]*\).*/\1/p" <<<"$hw"; }
    cpus=$(field CPUs)
    boards=$(field Boards)
    sockets=$(field SocketsPerBoard)
    cores=$(field CoresPerSocket)
    threads=$(field ThreadsPerCore)
    mem=$(field RealMemory)
    if [[ -z $cpus || -z $mem ]]; then
        cpus=$(nproc)
        boards=1 sockets=1 cores=$cpus threads=1
        mem=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
    fi
    # Report ~10% less memory than detected, otherwise slurmd may register
    # with less than configured and the node gets drained ("Low RealMemory").
    mem=$((mem * 9 / 10))
    ((mem >= 256)) || mem=256
    # Default memory per CPU for jobs without --mem: an even share of the
    # node, at most 1 GiB, so one job does not grab the whole node.
    local defmem=$((mem / cpus))
    ((defmem > 1024)) && defmem=1024
    echo "$cpus ${boards:-1} ${sockets:-1} ${cores:-$cpus} ${threads:-1} $mem $defmem"
}

# Move a pre-existing file that we did not write out of the way.
backup_foreign() {
    local f=$1 backup
    [[ -e $f ]] || return 0
    if head -n 1 "$f" | grep -qF "$MARKER"; then
        return 0
    fi
    backup="$f.bak.$(date +%Y%m%d%H%M%S)"
    mv "$f" "$backup"
    say "backed up existing $f to $backup"
}

# Character devices that back the fake GPUs (any device file will do; none is opened).
fake_gpu_devices() {
    local devices=(/dev/null /dev/zero /dev/full /dev/urandom)
    echo "${devices[@]:0:$1}"
}

# The number of fake GPUs written to the running config.
configured_gpus() {
    grep -c '^NodeName=.* Name=gpu ' "$GRES_CONF" 2>/dev/null || echo 0
}

write_config() {
    local host=$1 cpus boards sockets cores threads mem defmem tmp gpus
    read -r cpus boards sockets cores threads mem defmem < <(node_hw)
    gpus=${SLURM_CLUSTER_GPUS:-$cpus}
    ((gpus >= 1)) || gpus=1
    ((gpus <= 4)) || gpus=4
    install -d -m 0755 "$CONF_DIR"
    backup_foreign "$CONF"
    backup_foreign "$GRES_CONF"

    tmp=$(mktemp "$CONF.XXXXXX")
    cat >"$tmp" <<EOF
$MARKER
# Single-node test cluster: no slurmdbd (sacct does not work), no cgroups.
ClusterName=starlight
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP_LOG
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=$defmem
GresTypes=gpu
ReturnToService=2
# Keep finished jobs visible to 'squeue --states=all' (snakemake status checks).
MinJobAge=$MIN_JOB_AGE
KillWait=5
MailProg=/bin/true
InactiveLimit=0
Waittime=0
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$CTLD_SPOOL
SlurmdSpoolDir=$SLURMD_SPOOL
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$SLURMD_LOG
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Boards=$boards SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem Gres=gpu:$gpus State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    chmod 0644 "$tmp"
    mv "$tmp" "$CONF"

    tmp=$(mktemp "$GRES_CONF.XXXXXX")
    cat >"$tmp" <<EOF
$MARKER
# Fake GPUs: a count-only line is not registered (node becomes INVAL), so
# back each with a device file.
$(for dev in $(fake_gpu_devices "$gpus"); do echo "NodeName=$host Name=gpu File=$dev"; done)
EOF
    chmod 0644 "$tmp"
    mv "$tmp" "$GRES_CONF"
}

node_state() {
    sinfo -h -N -n "$1" -o '%T' 2>/dev/null | head -n 1 || true
}

wait_for_node() {
    local host=$1 deadline state resumed=0
    deadline=$((SECONDS + TIMEOUT))
    while ((SECONDS < deadline)); do
        state=$(node_state "$host")
        case $state in
            idle | mixed | allocated | completing)
                return 0 ;;
            *drain* | down* | *fail* | inval* | *not_responding*)
                # ReturnToService=2 usually handles this; force it otherwise.
                if ((resumed < 3)) && [[ $state != *"*"* ]]; then
                    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
                    resumed=$((resumed + 1))
                fi ;;
        esac
        sleep 1
    done
    {
        echo "$PROG: error: node $host not idle after ${TIMEOUT}s (state: '${state:-unknown}')"
        scontrol show node "$host" 2>/dev/null | grep -E 'State=|Reason=' || true
    } >&2
    log_tail "$CTLD_LOG" "$SLURMD_LOG"
    exit 1
}

start_slurm() {
    local host=$1
    install -d -m 0755 "$RUN_DIR" "$CTLD_SPOOL" "$SLURMD_SPOOL" "$LOG_DIR"
    rm -f "$CTLD_PID" "$SLURMD_PID"
    if ! slurmctld </dev/null >/dev/null 2>&1 9>&-; then
        log_tail "$CTLD_LOG"
        die "slurmctld failed to start"
    fi
    local i
    for ((i = 0; i < 100; i++)); do
        scontrol ping 2>/dev/null | grep -q 'is UP' && break
        sleep 0.2
    done
    if ! scontrol ping 2>/dev/null | grep -q 'is UP'; then
        log_tail "$CTLD_LOG"
        die "slurmctld does not answer 'scontrol ping'"
    fi
    if ! slurmd -N "$host" </dev/null >/dev/null 2>&1 9>&-; then
        log_tail "$SLURMD_LOG"
        die "slurmd failed to start"
    fi
}

cmd_start() {
    require_root
    ensure_packages
    local host
    host=$(hostname -s)
    [[ -n $host ]] || die "cannot determine short hostname"

    start_munge

    if is_running "$CTLD_PID" slurmctld && is_running "$SLURMD_PID" slurmd; then
        head -n 1 "$CONF" 2>/dev/null | grep -qF "$MARKER" ||
            die "SLURM daemons are running with a configuration not written by $PROG; stop them first"
        wait_for_node "$host"
        say "already running (node $host: $(node_state "$host"))"
        return 0
    fi
    # Partial state (one daemon died): restart both with a fresh config.
    stop_daemon slurmd "$SLURMD_PID"
    stop_daemon slurmctld "$CTLD_PID"

    write_config "$host"
    start_slurm "$host"
    wait_for_node "$host"
    say "started single-node cluster: node $host, partition $PARTITION (default), gres gpu:$(configured_gpus); logs in $LOG_DIR"
}

cancel_all_jobs() {
    local ids i
    scontrol ping 2>/dev/null | grep -q 'is UP' || return 0
    ids=$(squeue -h -o '%i' -t PENDING,RUNNING,SUSPENDED,COMPLETING,CONFIGURING 2>/dev/null || true)
    [[ -n $ids ]] || return 0
    # shellcheck disable=SC2086
    scancel $ids 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
        ids=$(squeue -h -o '%i' -t PENDING,RUNNING,SUSPENDED,COMPLETING,CONFIGURING 2>/dev/null || true)
        [[ -z $ids ]] && return 0
        sleep 0.5
    done
}

# Take our config away (it is rewritten on every start) and put back what start backed up. With a
# config naming a controller that is gone, every SLURM client call (`scontrol show config`, which
# snakemake's SLURM plugin runs whenever it is loaded, even for local runs) waits ~10 s to time out;
# without one it fails at once.
remove_config() {
    local f backup
    for f in "$CONF" "$GRES_CONF"; do
        [[ -e $f ]] && head -n 1 "$f" | grep -qF "$MARKER" || continue
        rm -f "$f"
        backup=$(ls -t "$f".bak.* 2>/dev/null | head -n 1 || true)
        if [[ -n $backup ]]; then
            mv "$backup" "$f"
            say "restored $f from $backup"
        fi
    done
}

cmd_stop() {
    require_root
    local was_running=0
    if is_running "$CTLD_PID" slurmctld || is_running "$SLURMD_PID" slurmd || is_running "$MUNGE_PID" munged; then
        was_running=1
    fi
    cancel_all_jobs
    stop_daemon slurmd "$SLURMD_PID"
    stop_daemon slurmctld "$CTLD_PID"
    # Job step daemons orphaned by slurmd (should be none after scancel).
    local pids
    pids=$(pgrep -x slurmstepd || true)
    if ((was_running)) && [[ -n $pids ]]; then
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
    fi
    stop_daemon munged "$MUNGE_PID"
    # Report survivors (exited-but-unreaped zombies do not count).
    local left="" name pid
    for name in slurmctld slurmd slurmstepd munged; do
        for pid in $(pgrep -x "$name" || true); do
            alive "$pid" && left+=" $name:$pid"
        done
    done
    if [[ -n $left ]]; then
        die "processes still running after stop:$left (not started by $PROG? their pid files are not in $RUN_DIR / $MUNGE_RUN)"
    fi
    remove_config
    if ((was_running)); then
        say "stopped"
    else
        say "not running (nothing to stop)"
    fi
}

cmd_status() {
    local ctld=0 slurmd_up=0 munge_up=0
    is_running "$CTLD_PID" slurmctld && ctld=1
    is_running "$SLURMD_PID" slurmd && slurmd_up=1
    is_running "$MUNGE_PID" munged && munge_up=1
    if ((ctld && slurmd_up && munge_up)) && sinfo 2>/dev/null; then
        return 0
    fi
    if ((ctld || slurmd_up || munge_up)); then
        echo "not running (partially up: slurmctld=$ctld slurmd=$slurmd_up munged=$munge_up)"
    else
        echo "not running"
    fi
    return 1
}

# Serialise concurrent start/stop calls (e.g. parallel test workers).
take_lock() {
    require_root
    install -d -m 0755 /run/lock
    exec 9>/run/lock/starlight-slurm-cluster.lock
    flock -w 180 9 || die "timed out waiting for another $PROG invocation"
}

case ${1:-} in
    start) take_lock; cmd_start ;;
    stop) take_lock; cmd_stop ;;
    status) cmd_status ;;
    *)
        echo "usage: $PROG start|stop|status" >&2
        exit 2 ;;
esac
