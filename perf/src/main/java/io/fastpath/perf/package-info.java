/**
 * JMH benchmarks of the data path. Each fork is its own JVM, so each trial starts EAL once and builds its own
 * ring pair; the JVM flags every fork needs are in each class's {@code @Fork}.
 *
 * <p>Run them all, with the allocation profiler, and write docs/perf/first-light.md: {@code perf/run-first-light.sh}.
 * By hand: {@code java -jar perf/target/benchmarks.jar -prof gc StackIcmpBenchmark}.
 *
 * <p>TCP is measured by a harness instead ({@link io.fastpath.perf.TcpHarness}: two stacks on two poll threads,
 * HdrHistogram), run three times by {@code perf/run-tcp.sh}, which writes docs/perf/tcp.md.
 * {@link io.fastpath.perf.SpuriousRetransmitRepro} reproduces the spurious fast retransmit the harness found.
 */
package io.fastpath.perf;
