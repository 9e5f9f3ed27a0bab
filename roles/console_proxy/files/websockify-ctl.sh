#!/bin/sh
# Runs websockify without systemd: a pid file, and a copy of the command line it was started with, so that the
# process is restarted only when the wanted command line differs (the token file is re-read on every connection,
# so token changes never need a restart).
#
# usage: websockify-ctl.sh ensure|check|stop|check-stop PIDFILE LOGFILE PORT -- COMMAND...
# prints one word or phrase: running, started, restarted, stopped, absent, or "would ..." for the check actions.
set -u
action=$1 pidfile=$2 logfile=$3 port=$4
shift 4
[ "${1:-}" = "--" ] && shift
cmdfile="$pidfile.cmdline"
umask 077

alive() {
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    # a recycled pid belonging to something else is not ours
    grep -aq websockify "/proc/$pid/cmdline" 2>/dev/null
}

gone() {
    # exited (a zombie until this script ends) or no such process; not `alive`, whose cmdline test can fail for
    # a moment while the child is still between fork and exec
    [ ! -r "/proc/$1/stat" ] && return 0
    [ "$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)" = Z ]
}

same_command() {
    [ -f "$cmdfile" ] && [ "$(cat "$cmdfile")" = "$(printf '%s\n' "$@")" ]
}

listening() {
    # listening on the port by websockify itself (pid $1), not merely by whatever else holds the port
    hex=$(printf ':%04X' "$port")
    inodes=$(awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print "socket:[" $10 "]" }' \
             /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    [ -n "$inodes" ] || return 1
    for fd in "/proc/$1/fd/"*; do
        link=$(readlink "$fd" 2>/dev/null) || continue
        case "$inodes" in *"$link"*) return 0 ;; esac
    done
    return 1
}

stop() {
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null
    rm -f "$pidfile" "$cmdfile"
}

start() {
    mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
    # not a process group leader (no job control here), so setsid execs websockify itself and $! is its pid
    setsid "$@" >>"$logfile" 2>&1 </dev/null &
    echo $! >"$pidfile"
    printf '%s\n' "$@" >"$cmdfile"
    i=0
    while [ $i -lt 150 ]; do
        if gone "$(cat "$pidfile")"; then
            echo "websockify for port $port exited at start (its log $logfile ends with: $(tail -n 2 "$logfile" | tr '\n' ' ' | sed 's/[.] *$//; s/[.] /; /g'))." >&2
            rm -f "$pidfile" "$cmdfile"
            exit 1
        fi
        listening "$(cat "$pidfile")" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    kill "$(cat "$pidfile")" 2>/dev/null
    rm -f "$pidfile" "$cmdfile"
    echo "websockify did not listen on port $port within 15 seconds (its log $logfile ends with: $(tail -n 2 "$logfile" | tr '\n' ' ' | sed 's/[.] *$//; s/[.] /; /g'))." >&2
    exit 1
}

case "$action" in
    ensure)
        if alive; then
            if same_command "$@"; then echo running; exit 0; fi
            stop; start "$@"; echo restarted
        else
            start "$@"; echo started
        fi ;;
    check)
        if alive; then
            if same_command "$@"; then echo running; else echo "would restart"; fi
        else
            echo "would start"
        fi ;;
    stop)
        if alive; then stop; echo stopped; else rm -f "$pidfile" "$cmdfile"; echo absent; fi ;;
    check-stop)
        if alive; then echo "would stop"; else echo absent; fi ;;
    *)
        echo "unknown action $action" >&2; exit 2 ;;
esac
