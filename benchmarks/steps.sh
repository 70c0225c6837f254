# Sourced by gpu.sh and cpu.sh: run numbered benchmark steps into a folder, then one Markdown table.
# step NAME TIMEOUT_S COMMAND... leaves NAME.txt (output), NAME.cmd (command), NAME.rc (exit status, seconds).

if [ -n "${PYTHON:-}" ]; then PY=$PYTHON; elif [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
status=0

start_steps() {  # start_steps FOLDER
    LOGS=$1
    rm -rf "$LOGS" && mkdir -p "$LOGS"
    {
        echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), host $(hostname), $(nproc) CPUs, git $(git rev-parse --short HEAD 2>/dev/null)"
        "$PY" -c 'import torch; print(f"- torch {torch.__version__}, CUDA {torch.version.cuda}, " + (", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) or "no GPU"))'
        echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
    } > "$LOGS/environment.txt"
}

step() {
    local name=$1 limit=$2
    shift 2
    echo "== $name: $*" >&2
    echo "$*" > "$LOGS/$name.cmd"
    local t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@" > "$LOGS/$name.txt" 2>&1
    local rc=$?
    echo "$rc $((SECONDS - t0))" > "$LOGS/$name.rc"
    if [ $rc -ne 0 ]; then
        status=1
        echo "   $name failed (exit status $rc; 124 = timed out): see $LOGS/$name.txt" >&2
    fi
}

finish_steps() {  # finish_steps OUTPUT.md
    "$PY" benchmarks/report.py "$LOGS" > "$1"
    echo "wrote $1 (step outputs in $LOGS/)" >&2
}
