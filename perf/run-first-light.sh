#!/usr/bin/env bash
# First-light performance run: the ring-pair floor and the stack's ARP/ICMP path, with the allocation
# profiler, then docs/perf/first-light.md generated from the raw JMH output.
#
#   perf/run-first-light.sh            # build if needed, run (about 6 minutes), write the markdown
#   JMH_OPTS="-f 1 -wi 2 -w 1s -i 3 -r 1s" perf/run-first-light.sh    # a quick look
#   perf/run-first-light.sh --report-only docs/perf/raw/first-light-<stamp>   # markdown from a past run
#
# Raw output (JMH JSON and text, the per-thread allocation log, machine facts) goes to docs/perf/raw/,
# which git ignores. Settings fit a 2-core box: forks run one at a time, pinned to CPU 1 when there is one.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export JAVA_HOME=${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}
JAVA="$JAVA_HOME/bin/java"
JAR=perf/target/benchmarks.jar
RAW=docs/perf/raw
OUT=docs/perf/first-light.md
REPORT=perf/scripts/first_light_report.py
JMH_OPTS_GIVEN=${JMH_OPTS:+yes}
JMH_OPTS=${JMH_OPTS:--f 3 -wi 3 -w 2s -i 5 -r 2s}
BENCHMARKS='io\.fastpath\.perf\.(RingPairBurstBenchmark|StackIcmpBenchmark)\.'

report() {
    local base=$1
    python3 "$REPORT" --json "$base.json" --alloc "$base.alloc.jsonl" --facts "$base.facts.json" --out "$OUT"
}

if [[ ${1:-} == --report-only ]]; then
    report "${2:?usage: $0 --report-only docs/perf/raw/first-light-<stamp>}"
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
    PIN=(taskset -c 1)
    PINNING="\`taskset -c 1\`: the JMH host JVM and its forks all run on CPU 1"
fi

mkdir -p "$RAW"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
BASE="$RAW/first-light-$STAMP"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# shellcheck disable=SC2206 # JMH_OPTS is a list of words on purpose
JMH_CMD=("${PIN[@]}" "$JAVA" -jar "$JAR" $JMH_OPTS -prof gc -rf json -rff "$BASE.json" "$BENCHMARKS")
echo "running: ${JMH_CMD[*]}"
FASTPATH_PERF_ALLOC_LOG="$ROOT/$BASE.alloc.jsonl" "${JMH_CMD[@]}" 2>&1 | tee "$BASE.txt"

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain -- perf stack dpdk-bindings 2>/dev/null) ]]; then
    COMMIT="$COMMIT + uncommitted changes"
fi

# Facts for the report, handed to python3 through the environment so nothing is quoted twice.
F_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
F_COMMIT=$COMMIT
F_SCRIPT="${JMH_OPTS_GIVEN:+JMH_OPTS=\"$JMH_OPTS\" }perf/run-first-light.sh"
F_JMH="FASTPATH_PERF_ALLOC_LOG=$BASE.alloc.jsonl ${PIN[*]}${PIN[*]:+ }$JAVA -jar $JAR $JMH_OPTS -prof gc -rf json -rff $BASE.json '$BENCHMARKS'"
F_NPROC=$(nproc)
F_CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
F_KERNEL=$(uname -sr)
F_DPDK=$(pkg-config --modversion libdpdk 2>/dev/null || echo unknown)
F_PINNING=$PINNING
F_CLOCKSOURCE=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown)
F_LOAD_BEFORE=$LOAD_BEFORE
F_LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
F_BASE=$BASE
export F_DATE F_COMMIT F_SCRIPT F_JMH F_NPROC F_CPU F_KERNEL F_DPDK F_PINNING F_CLOCKSOURCE F_LOAD_BEFORE F_LOAD_AFTER F_BASE
python3 - "$BASE.facts.json" <<'PY'
import json, os, sys
e = os.environ
base = e["F_BASE"]
facts = {
    "date": e["F_DATE"], "commit": e["F_COMMIT"], "script_command": e["F_SCRIPT"], "jmh_command": e["F_JMH"],
    "nproc": e["F_NPROC"], "cpu_model": e["F_CPU"], "kernel": e["F_KERNEL"], "dpdk": e["F_DPDK"],
    "pinning": e["F_PINNING"], "clocksource": e["F_CLOCKSOURCE"], "load_before": e["F_LOAD_BEFORE"], "load_after": e["F_LOAD_AFTER"],
    "raw_files": [base + ".json", base + ".txt", base + ".alloc.jsonl", base + ".facts.json"],
}
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(facts, f, indent=2)
PY

report "$BASE"
