/**
 * JMH benchmarks of the data path. Each fork is its own JVM, so each trial starts EAL once and builds its own
 * ring pair; the JVM flags every fork needs are in each class's {@code @Fork}.
 *
 * <p>Run them all, with the allocation profiler, and write docs/perf/first-light.md: {@code perf/run-first-light.sh}.
 * By hand: {@code java -jar perf/target/benchmarks.jar -prof gc StackIcmpBenchmark}.
 */
package io.fastpath.perf;
