#!/bin/bash
# Alternating A/B of the 64 B API round trips on CPU 1 (see docs/perf/apis.md): each jar in turn, `rounds` times;
# prints each fork's median and minimum of 16 iterations (ns/op). TDI runs with -p buffers=address on a jar whose
# TdiRoundTripBenchmark has that parameter (jars built before it, e.g. at 58f4667, have only the one way).
# usage: perf/ab-apis.sh Wsk|Tdi|Ndk rounds jar1 jar2 ...
source "$(dirname "$0")/../bin/jdk25"
b=$1; r=$2; shift 2
for i in $(seq 1 $r); do
  for jar in "$@"; do
    extra=""
    if [[ $b == Tdi* ]] && taskset -c 0 $JAVA_HOME/bin/java -jar $jar -lp TdiRoundTripBenchmark 2>/dev/null | grep -q '"buffers"'; then
      extra="-p buffers=address"
    fi
    s=$(nice -n -15 taskset -c 1 $JAVA_HOME/bin/java -jar $jar "${b}RoundTripBenchmark" -p size=64 $extra -f 1 -wi 3 -w 1s -i 16 -r 500ms 2>&1 | grep -E '^Iteration' | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END{print "median", a[int((NR+1)/2)], "min", a[1]}')
    echo "$b round $i $(basename $(dirname $(dirname $jar)))/$(basename $jar) $s load $(cut -d' ' -f1 /proc/loadavg)"
  done
done
