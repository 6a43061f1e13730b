#!/usr/bin/env bash
# TCP latency and throughput: 64-byte ping-pong and bulk transfer between two fastpath stacks over a ring
# pair (each stack busy-polling on its own thread), the raw frame floor of that ring pair, java.nio over the
# kernel's loopback, and fastpath against Linux (Python) over net_tap. The harness (TcpHarness, HdrHistogram)
# runs RUNS times (default 3, a fresh JVM each), then docs/perf/tcp.md is generated with the medians.
#
#   perf/run-tcp.sh                       # build if needed, 3 runs (about 5-6 minutes), write the markdown
#   RUNS=1 HARNESS_OPTS="--rtt-count 50000 --tap-rtt-count 20000 --bulk-seconds 2" perf/run-tcp.sh   # a quick look
#   HARNESS_OPTS="--phases floor_rtt,fastpath_rtt" perf/run-tcp.sh                                  # some phases
#   perf/run-tcp.sh --report-only docs/perf/raw/tcp-<stamp> [docs/perf/raw/tcp-<earlier>]   # markdown again
#
# The markdown also shows the run set before this one (the newest earlier docs/perf/raw/tcp-*.facts.json)
# side by side: on this shared VM the absolute numbers move between periods, and that shows by how much.
#
# Needs root for the net_tap phases (a network namespace and a tap device, removed again); without it they
# are reported as failed and the rest runs. Raw output (one JSON and one log per run, HdrHistogram percentile
# files, machine facts) goes to docs/perf/raw/, which git ignores. The whole JVM is pinned to CPUs 0-1 with
# taskset; inside it the harness pins the client's poll thread to CPU 0 and the server's to CPU 1.
set -euo pipefail

cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}
JAVA="$JAVA_HOME/bin/java"
JAR=perf/target/benchmarks.jar
RAW=docs/perf/raw
OUT=docs/perf/tcp.md
REPORT=perf/scripts/tcp_report.py
RUNS_GIVEN=${RUNS:-}
RUNS=${RUNS:-3}
HARNESS_OPTS=${HARNESS_OPTS:-}
MAIN=io.fastpath.perf.TcpHarness
# As the JMH forks (pom.xml's fastpath.jvm.flags, bounds checks off), a fixed heap, and the recorder's
# once-per-1000-round-trips bookkeeping kept out of line (see RttRecorder).
JVM_FLAGS=(--enable-native-access=ALL-UNNAMED --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
    -Dagrona.disable.bounds.checks=true -Xms512m -Xmx512m
    -XX:CompileCommand=quiet "-XX:CompileCommand=dontinline,io.fastpath.perf.RttRecorder::checkpoint")

report() {
    python3 "$REPORT" --base "$1" --out "$OUT" ${2:+--previous "$2"}
}

if [[ ${1:-} == --report-only ]]; then
    report "${2:?usage: $0 --report-only docs/perf/raw/tcp-<stamp> [docs/perf/raw/tcp-<earlier stamp>]}" "${3:-}"
    exit 0
fi

# Build when the jar is missing or older than any source it is made of.
if [[ ! -f $JAR ]] || [[ -n $(find perf/src perf/pom.xml stack/src/main stack/pom.xml dpdk-bindings/src/main \
        dpdk-bindings/pom.xml pom.xml -newer "$JAR" -type f -print -quit) ]]; then
    echo "building $JAR"
    mvn -o -q -B -pl perf -am package -DskipTests
fi

PIN=()
PINNING="none"
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
    PIN=(taskset -c 0-1)
    PINNING="\`taskset -c 0-1\` for the whole JVM; the harness pins each measured thread to one CPU (client 0, server 1)"
fi

mkdir -p "$RAW"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
BASE="$RAW/tcp-$STAMP"
PREVIOUS=$(find "$RAW" -maxdepth 1 -name 'tcp-*.facts.json' 2>/dev/null | sort | tail -1)
PREVIOUS=${PREVIOUS%.facts.json}
STARTED=$(date +%s)
LOADS=()
EXITS=()
BUSY=()
for ((run = 1; run <= RUNS; run++)); do
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    # What else is running: the second of two top snapshots 1 s apart (the first counts since boot).
    BUSY+=("run $run: $(top -b -n 2 -d 1 -w 200 2>/dev/null | awk '/^ *PID/ {n++; next} n == 2 && NF > 11 && $9 > 0 \
        {printf "%s%s %s", (k++ ? ", " : ""), $12, $9} k == 4 {exit}')")
    # shellcheck disable=SC2206 # HARNESS_OPTS is a list of words on purpose
    CMD=("${PIN[@]}" "$JAVA" "${JVM_FLAGS[@]}" -cp "$JAR" "$MAIN" --out "$BASE.run$run.json" $HARNESS_OPTS)
    echo "run $run of $RUNS: ${CMD[*]}"
    rc=0
    "${CMD[@]}" > >(tee "$BASE.run$run.txt") 2>&1 || rc=$?
    LOADS+=("$LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg)")
    EXITS+=("$rc")
done
ELAPSED=$(( $(date +%s) - STARTED ))

# The spurious fast retransmit the harness found (a pure ACK counted as a duplicate with one segment out):
# its deterministic reproduction, so the report says whether this commit still has it.
REPRO_RC=0
REPRO_OUT=$("${PIN[@]}" "$JAVA" "${JVM_FLAGS[@]}" -cp "$JAR" io.fastpath.perf.SpuriousRetransmitRepro 2>&1) || REPRO_RC=$?
echo "$REPRO_OUT" > "$BASE.repro.txt"

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain -- perf stack dpdk-bindings 2>/dev/null) ]]; then
    COMMIT="$COMMIT + uncommitted changes"
fi

# Facts for the report, handed to python3 through the environment so nothing is quoted twice.
F_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
F_COMMIT=$COMMIT
F_SCRIPT="${RUNS_GIVEN:+RUNS=$RUNS_GIVEN }${HARNESS_OPTS:+HARNESS_OPTS=\"$HARNESS_OPTS\" }perf/run-tcp.sh"
F_HARNESS="${PIN[*]}${PIN[*]:+ }$JAVA ${JVM_FLAGS[*]} -cp $JAR $MAIN --out $BASE.run<N>.json${HARNESS_OPTS:+ $HARNESS_OPTS}"
F_NPROC=$(nproc)
F_CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
F_KERNEL=$(uname -sr)
F_DPDK=$(pkg-config --modversion libdpdk 2>/dev/null || echo unknown)
F_JDK=$("$JAVA" -version 2>&1 | sed -n 2p)
F_PYTHON=$(/usr/bin/python3 --version 2>&1 || echo unknown)
F_PINNING=$PINNING
F_CLOCKSOURCE=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown)
F_LOADS=$(IFS='|'; echo "${LOADS[*]}")
F_EXITS=$(IFS='|'; echo "${EXITS[*]}")
F_BUSY=$(IFS='|'; echo "${BUSY[*]}")
F_ELAPSED=$ELAPSED
F_BASE=$BASE
F_RUNS=$RUNS
F_REPRO_RC=$REPRO_RC
F_REPRO_LAST=$(tail -1 <<< "$REPRO_OUT")
export F_REPRO_RC F_REPRO_LAST
export F_DATE F_COMMIT F_SCRIPT F_HARNESS F_NPROC F_CPU F_KERNEL F_DPDK F_JDK F_PYTHON F_PINNING F_CLOCKSOURCE \
    F_LOADS F_EXITS F_BUSY F_ELAPSED F_BASE F_RUNS
python3 - "$BASE.facts.json" <<'PY'
import json, os, sys
e = os.environ
base = e["F_BASE"]
runs = int(e["F_RUNS"])
facts = {
    "date": e["F_DATE"], "commit": e["F_COMMIT"], "script_command": e["F_SCRIPT"],
    "harness_command": e["F_HARNESS"], "nproc": e["F_NPROC"], "cpu_model": e["F_CPU"], "kernel": e["F_KERNEL"],
    "dpdk": e["F_DPDK"], "jdk": e["F_JDK"], "python": e["F_PYTHON"], "pinning": e["F_PINNING"],
    "clocksource": e["F_CLOCKSOURCE"], "loads": e["F_LOADS"].split("|"), "exit_codes": e["F_EXITS"].split("|"),
    "busiest_processes": e["F_BUSY"].split("|"), "elapsed_s": int(e["F_ELAPSED"]), "runs": runs,
    "repro_exit_code": int(e["F_REPRO_RC"]), "repro_last_line": e["F_REPRO_LAST"],
    "raw_files": [f"{base}.run{i}.json" for i in range(1, runs + 1)]
    + [f"{base}.run{i}.txt" for i in range(1, runs + 1)]
    + [f"{base}.run<N>.json.<phase>.hgrm", f"{base}.repro.txt", f"{base}.facts.json"],
}
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(facts, f, indent=2)
PY

report "$BASE" "$PREVIOUS"
echo "took ${ELAPSED} s for $RUNS run(s)"
