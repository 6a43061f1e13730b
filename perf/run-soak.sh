#!/usr/bin/env bash
# Soak and long-run tests (issue 10) for as long as you like, with their summary lines in docs/perf/soak.md:
#   - connection churn plus a bulk stream through 1% loss, reordering and duplication between two stacks
#     (SoakTest) and against Linux over net_tap (LinuxTcpTest's soak), MINUTES each;
#   - one loss-free transfer of GIB GiB over a ring pair (rate kept to the end, graceful close).
#
#   perf/run-soak.sh                 # 30 minutes each, 100 GiB (about 70 minutes on 2 vCPUs)
#   MINUTES=2 GIB=8 perf/run-soak.sh # what CI runs inside bin/test
#
# Needs root (namespaces, a tap device). Every check of the CI version applies: every byte verified, every
# close clean, tables empty, no mbuf held, the heap flat.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-30}
GIB=${GIB:-100}
source bin/jdk25
bin/setup
mvn -B -q -o -pl stack -am install -DskipTests
OUT=docs/perf/soak.md
LOG=$(mktemp)
LINES=$(mktemp)
run() {
    rm -rf stack/target/surefire-reports
    mvn -B -o -pl stack surefire:test "-Dtest=$1" -Dsurefire.failIfNoSpecifiedTests=false \
        -Dfastpath.soak.seconds=$((MINUTES * 60)) -Dfastpath.longTransfer.gib="$GIB" | tee -a "$LOG" \
        | grep -E 'Tests run:|FAIL' || true
    grep -hE '^(soak|long transfer)' stack/target/surefire-reports/*-output.txt >> "$LINES" || true
}
run 'SoakTest#churnAndBulkThroughFaultsForMinutes_issue10_soak'
run 'LinuxTcpTest#soakChurnAndBulkAgainstLinuxThroughLoss_issue10_soak'
run 'SoakTest#longLossFreeTransferKeepsItsRateAndClosesGracefully_issue10_repro3'
{
    echo "# Soak and long-run results"
    echo
    echo "Made by \`MINUTES=$MINUTES GIB=$GIB perf/run-soak.sh\` on $(date -u +%Y-%m-%d) ($(nproc) vCPUs, commit $(git rev-parse --short HEAD))."
    echo
    echo '```'
    cat "$LINES"
    grep -hE 'Tests run: [0-9]+, Failures' "$LOG" | grep -v ' -- in ' || true
    echo '```'
} > "$OUT"
cat "$OUT"
grep -q 'FAILURE' "$LOG" && exit 1 || exit 0
