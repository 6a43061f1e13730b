#!/usr/bin/env bash
# bin/fastpath bench <scenario>|all [--quick] [--out DIR] [--publish] ...: builds perf/target/benchmarks.jar
# when it is missing or older than its sources (mvn package, offline first), then runs io.fastpath.perf.Bench,
# which runs each scenario in a JVM of its own (--quick: all in one). JVM flags as perf/run-tcp.sh: bounds checks off, fixed heap,
# the recorder's checkpoint kept out of line; the JVM is pinned to CPUs 0-1 when there are two or more.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/bin/jdk25"
jar="$root/perf/target/benchmarks.jar"
if [[ ! -f $jar ]] || [[ -n $(find "$root" -path '*/src/main/*' -newer "$jar" -type f -print -quit) ]] \
   || [[ -n $(find "$root" -maxdepth 2 -name pom.xml -newer "$jar" -print -quit) ]]; then
  echo "bench: building $jar" >&2
  (cd "$root" && { mvn -o -q -B -pl perf -am package -DskipTests >&2 || mvn -q -B -pl perf -am package -DskipTests >&2; })
fi
pin=()
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
  pin=(taskset -c 0-1)
fi
exec "${pin[@]}" "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED \
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED -Dagrona.disable.bounds.checks=true -Xms512m -Xmx512m \
  -XX:+UseParallelGC -Djava.awt.headless=true -Dfastpath.root="$root" -XX:CompileCommand=quiet \
  "-XX:CompileCommand=dontinline,io.fastpath.perf.RttRecorder::checkpoint" \
  -cp "$jar" io.fastpath.perf.Bench "$@"
