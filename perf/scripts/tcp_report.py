#!/usr/bin/env python3
"""Turns the runs of perf/run-tcp.sh (TcpHarness JSON, one file per run) into docs/perf/tcp.md.

Reads only what the runs left behind, so the markdown can be regenerated from docs/perf/raw/ at any time:

    python3 perf/scripts/tcp_report.py --base docs/perf/raw/tcp-<stamp> --out docs/perf/tcp.md \
        [--previous docs/perf/raw/tcp-<earlier stamp>]

<base>.run<N>.json are the harness results, <base>.facts.json the machine facts and commands.

Statistics: every figure in the main tables is the median over the runs of that run's value (a run's p99 is
the p99 of its 200,000 round trips; the table's p99 is the median of the runs' p99s). Per-run values are
listed too, because the machine is shared and a run can be disturbed as a whole.
"""
import argparse
import glob
import json
import math
import re
import statistics

RTT = [
    ("floor_rtt", "floor: one 64-byte frame bounced over the ring pair, no stack"),
    ("fastpath_rtt", "fastpath ↔ fastpath over the ring pair, TCP_NODELAY"),
    ("nio_rtt", "java.nio ↔ java.nio, 127.0.0.1, blocking, TCP_NODELAY"),
    ("nio_rtt_spin", "java.nio ↔ java.nio, 127.0.0.1, non-blocking, spinning on read (extra)"),
    ("tap_rtt", "fastpath → Linux over net_tap, Python echo in a namespace"),
]
BULK = [
    ("fastpath_bulk_1", "fastpath → fastpath over the ring pair, discard server"),
    ("fastpath_bulk_4", "fastpath → fastpath over the ring pair, discard server"),
    ("nio_bulk_1", "java.nio → java.nio, 127.0.0.1, blocking"),
    ("nio_bulk_4", "java.nio → java.nio, 127.0.0.1, blocking, a thread per socket"),
    ("tap_bulk_1", "fastpath → Linux over net_tap, Python sink (recv_into 1 MiB)"),
]
STACK_PHASES = ["fastpath_rtt", "fastpath_bulk_1", "fastpath_bulk_4", "tap_rtt", "tap_bulk_1"]
# A drop every ring run has once and that means nothing: each stack's gratuitous ARP at start names its own
# address, which the other stack is not.
BENIGN_DROPS = ("drop arp: target is not our address",)


def run_number(path):
    m = re.search(r"\.run(\d+)\.json$", path)
    return int(m.group(1)) if m else 0


def load_runs(base):
    paths = sorted(glob.glob(base + ".run*.json"), key=run_number)
    runs = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            data = json.load(f)
        data["_path"] = p
        data["_by_name"] = {r["name"]: r for r in data.get("results", [])}
        runs.append(data)
    if not runs:
        raise SystemExit(f"no {base}.run*.json")
    return runs


def results(runs, name):
    """The result of phase `name` in each run (None where missing)."""
    return [r["_by_name"].get(name) for r in runs]


def good(runs, name):
    return [r for r in results(runs, name) if r is not None and "error" not in r]


def values(runs, name, key):
    return [r[key] for r in good(runs, name) if r.get(key) is not None]


def median(xs):
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return statistics.median(xs) if xs else None


def fmt_us(v):
    if v is None:
        return "n/a"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt(v, digits=2):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}"


def per_run(runs, name, key, formatter):
    out = []
    for r in results(runs, name):
        if r is None:
            out.append("–")
        elif "error" in r:
            out.append("failed")
        else:
            out.append(formatter(r.get(key)))
    return " / ".join(out)


def min_cpu_share(result):
    shares = [t.get("cpu_share") for t in result.get("threads", []) if t.get("cpu_share") is not None]
    return min(shares) if shares else None


def cpu_per_run(runs, name):
    out = []
    for r in results(runs, name):
        if r is None or "error" in r:
            out.append("–")
        else:
            out.append(fmt(min_cpu_share(r)))
    return " / ".join(out)


def counters(result, stack):
    for c in result.get("counters", []):
        if c["stack"] == stack:
            return c
    return None


def real_drops(c):
    """Drops other than the benign ones, as {label: count}."""
    out = {}
    for line in c.get("nonzero", []):
        value, _, label = line.partition(" ")
        label = label.strip()
        label = label.split(": ", 1)[1] if ": " in label else label
        if label.startswith("drop ") and label not in BENIGN_DROPS:
            out[label] = out.get(label, 0) + int(value)
    return out


def render_previous(runs, previous, prev_facts, w):
    """A section comparing this run set's medians with another's (by default the run set before it)."""
    n, m = len(runs), len(previous)
    w("## Against the previous run set")
    w("")
    w(f"The run set before this one: {prev_facts.get('date', '?')}, commit `{prev_facts.get('commit', '?')}`, "
      f"`{prev_facts.get('script_command', '?')}`, {m} run{'s' if m != 1 else ''} (medians; per run in brackets). "
      "On this shared virtual machine the same code can land in a different regime from one period to the "
      "next; the floor shows which one.")
    w("")
    w("| Test | This set | Previous set |")
    w("|---|---:|---:|")
    for name, _ in RTT:
        now, before = median(values(runs, name, "p50_us")), median(values(previous, name, "p50_us"))
        if now is None and before is None:
            continue
        w(f"| `{name}` p50 µs | {fmt_us(now)} | {fmt_us(before)} ({per_run(previous, name, 'p50_us', fmt_us)}) |")
    for name, _ in BULK:
        now, before = median(values(runs, name, "gbit_per_s")), median(values(previous, name, "gbit_per_s"))
        if now is None and before is None:
            continue
        w(f"| `{name}` Gbit/s | {fmt(now)} | {fmt(before)} ({per_run(previous, name, 'gbit_per_s', fmt)}) |")
    w("")


def render(runs, facts, previous=None, prev_facts=None):
    n = len(runs)
    first = runs[0]
    jvm = first.get("jvm", {})
    out = []
    w = out.append
    w("# Performance: TCP")
    w("")
    w("Round-trip latency and bulk throughput of fastpath's TCP, between two stacks over the in-process ring "
      "pair (each stack busy-polling on its own pinned thread), against the ring pair's own floor, against "
      "java.nio over the kernel's loopback, and against Linux over net_tap. Measured by "
      "`io.fastpath.perf.TcpHarness` (HdrHistogram, not JMH: each measurement is a system of two threads), "
      f"{n} run{'s' if n != 1 else ''} in fresh JVMs; generated by `perf/scripts/tcp_report.py` from the raw results in "
      "`docs/perf/raw/` (git-ignored). Do not edit by hand: run `perf/run-tcp.sh` again.")
    w("")
    w(f"Run: {facts.get('date', '?')}, commit `{facts.get('commit', '?')}`, {n} run{'s' if n != 1 else ''} in "
      f"{facts.get('elapsed_s', '?')} s.")
    w("")
    w("## Command")
    w("")
    w("```sh")
    w(facts.get("script_command", "perf/run-tcp.sh"))
    w("```")
    w("")
    w(f"which ran, from the repository root, once per run (N = 1..{n}):")
    w("")
    w("```sh")
    w(facts.get("harness_command", "?"))
    w("```")
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    w(f"| CPUs (`nproc`) | {facts.get('nproc', '?')} |")
    w(f"| CPU model (/proc/cpuinfo) | {facts.get('cpu_model', '?')} |")
    w(f"| Kernel | {facts.get('kernel', '?')} |")
    w(f"| JDK | {jvm.get('name', '?')} {jvm.get('version', '?')} ({facts.get('jdk', '?')}) |")
    w(f"| JVM flags | `{' '.join(jvm.get('flags', []))}` |")
    w(f"| DPDK (`pkg-config --modversion libdpdk`) | {facts.get('dpdk', '?')} |")
    w(f"| Python (the Linux peer) | {facts.get('python', '?')} |")
    w(f"| Clock source (`System.nanoTime`) | {facts.get('clocksource', '?')} |")
    w(f"| Pinning | {facts.get('pinning', '?')} |")
    loads = facts.get("loads", [])
    w(f"| Load average before / after, per run | {'; '.join(loads) if loads else '?'} |")
    busy = [b + "nothing above 0%" if b.endswith(": ") else b for b in facts.get("busiest_processes", [])]
    w(f"| Busiest processes in the second before each run (`top`, % of one CPU) | {'; '.join(busy) if busy else '?'} |")
    w(f"| Harness exit codes per run | {' / '.join(facts.get('exit_codes', [])) or '?'} |")
    w("")
    w("The machine is shared with other engineers' builds and tests, which also busy-poll: with two CPUs and "
      "two spinning poll threads, anything else that runs takes a CPU from a measured thread. Each result "
      "therefore carries the *CPU share* of its measured threads in the measured window (thread CPU time / "
      "wall time; a busy-polling thread that had its CPU to itself shows 1.00). Read a result whose share is "
      "well below 1 as disturbed. For the blocking java.nio tests the share is low by design (the threads "
      "sleep in `read`) and says nothing about contention.")
    w("")

    # ------------------------------------------------------------------ latency
    w(f"## Round-trip latency: 64-byte messages (median of {n} run{'s' if n != 1 else ''})")
    w("")
    count = median(values(runs, "fastpath_rtt", "count")) or median(values(runs, "floor_rtt", "count"))
    w(f"Each run measures {int(count):,} round trips per test after a warm-up (see *What each test is*); "
      "times in µs, from `System.nanoTime()` before the send to the moment the whole echo is in the "
      "application's hands." if count else "Times in µs.")
    w("")
    w("| Test | What | p50 | p90 | p99 | p99.9 | max | round trips/s |")
    w("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, what in RTT:
        if not any(results(runs, name)):
            continue
        if not good(runs, name):
            w(f"| `{name}` | {what} | failed | | | | | |")
            continue
        w(f"| `{name}` | {what} | {fmt_us(median(values(runs, name, 'p50_us')))} | "
          f"{fmt_us(median(values(runs, name, 'p90_us')))} | {fmt_us(median(values(runs, name, 'p99_us')))} | "
          f"{fmt_us(median(values(runs, name, 'p999_us')))} | {fmt_us(median(values(runs, name, 'max_us')))} | "
          f"{fmt(median(values(runs, name, 'round_trips_per_s')), 0)} |")
    w("")
    w("Per run (run 1 / run 2 / ...), with the lowest CPU share of the test's two measured threads:")
    w("")
    w("| Test | p50 | p99 | p99.9 | max | CPU share |")
    w("|---|---|---|---|---|---|")
    for name, _ in RTT:
        if not any(results(runs, name)):
            continue
        w(f"| `{name}` | {per_run(runs, name, 'p50_us', fmt_us)} | {per_run(runs, name, 'p99_us', fmt_us)} | "
          f"{per_run(runs, name, 'p999_us', fmt_us)} | {per_run(runs, name, 'max_us', fmt_us)} | "
          f"{cpu_per_run(runs, name)} |")
    w("")

    # ------------------------------------------------------------------ ratios
    def ratio_rows(a, b):
        ma, mb = median(values(runs, a, "p50_us")), median(values(runs, b, "p50_us"))
        per = []
        for ra, rb in zip(results(runs, a), results(runs, b)):
            if ra and rb and "error" not in ra and "error" not in rb and rb.get("p50_us"):
                per.append(ra["p50_us"] / rb["p50_us"])
        return ma, mb, per

    w("### Ratios of the medians (p50)")
    w("")
    w("| Ratio | Value | Per run | Reading |")
    w("|---|---:|---|---|")
    for a, b, reading in [
        ("fastpath_rtt", "floor_rtt", "what two TCP stacks cost on top of moving the frames"),
        ("fastpath_rtt", "nio_rtt", "fastpath against blocking java.nio on the kernel's loopback"),
        ("fastpath_rtt", "nio_rtt_spin", "fastpath against java.nio spinning on non-blocking sockets"),
        ("tap_rtt", "nio_rtt", "fastpath ↔ Linux over net_tap against kernel ↔ kernel"),
    ]:
        ma, mb, per = ratio_rows(a, b)
        if ma is None or mb is None:
            continue
        r = ma / mb
        inverse = f" (= 1 / {mb / ma:.1f})" if r < 1 else ""
        w(f"| `{a}` p50 / `{b}` p50 | {r:.3g}{inverse} | {' / '.join(f'{x:.3g}' for x in per)} | {reading} |")
    w("")

    # ------------------------------------------------------------------ throughput
    w(f"## Bulk throughput (median of {n} run{'s' if n != 1 else ''})")
    w("")
    bulk_s = first.get("bulk_s")
    bulk_warm = first.get("bulk_warmup_s")
    w(f"One client streams as fast as the connection takes it for {bulk_warm} s of warm-up and {bulk_s} s "
      "measured; the receiver consumes everything at once. Gbit/s of TCP payload (goodput): bytes the "
      "receiver took in the window for the ring and loopback tests; for net_tap, bytes Linux acknowledged "
      "(seen by the sender, as the receiver is another process).")
    w("")
    w("| Test | What | Connections | Gbit/s | Per run | CPU share per run |")
    w("|---|---|---:|---:|---|---|")
    for name, what in BULK:
        if not any(results(runs, name)):
            continue
        conns = median(values(runs, name, "connections"))
        if not good(runs, name):
            w(f"| `{name}` | {what} | | failed | {per_run(runs, name, 'gbit_per_s', fmt)} | |")
            continue
        w(f"| `{name}` | {what} | {int(conns) if conns else '?'} | "
          f"{fmt(median(values(runs, name, 'gbit_per_s')))} | {per_run(runs, name, 'gbit_per_s', fmt)} | "
          f"{cpu_per_run(runs, name)} |")
    w("")

    if previous:
        render_previous(runs, previous, prev_facts or {}, w)

    # ------------------------------------------------------------------ allocation
    w("## Allocation in steady state")
    w("")
    w("Bytes each measured thread allocated between two samples of its own allocated-bytes counter "
      "(`com.sun.management.ThreadMXBean`, TLAB included): for poll threads read on the thread itself between "
      "duty cycles, for java.nio threads (which may be blocked in a read) with "
      "`getThreadAllocatedBytes(id)`. The window covers the measured round trips (RTT) or the measured "
      "seconds (bulk), in steady state on both sides. Target: 0.")
    w("")
    w("| Test | Thread | Bytes in the window, per run | Per round trip (RTT) or per MiB (bulk), worst run | GC in the window |")
    w("|---|---|---|---:|---:|")
    all_zero = True
    stack_nonzero = []
    for name, _ in RTT + BULK:
        rs = good(runs, name)
        if not rs:
            continue
        thread_names = [t["name"] for t in rs[0].get("threads", [])]
        gcs = sum(r.get("gc_count", 0) for r in rs)
        for tn in thread_names:
            per, worst = [], 0.0
            unit = "rt"
            for r in results(runs, name):
                if r is None or "error" in r:
                    per.append("–")
                    continue
                t = next((t for t in r.get("threads", []) if t["name"] == tn), None)
                if t is None:
                    per.append("–")
                    continue
                per.append(f"{t['alloc_bytes']:,}")
                key = "alloc_per_rt" if "alloc_per_rt" in t else "alloc_per_mib"
                unit = "round trip" if key == "alloc_per_rt" else "MiB"
                if t.get(key) is not None:
                    worst = max(worst, t[key])
                if t["alloc_bytes"] != 0:
                    all_zero = False
                    if tn.startswith("fastpath") or tn.startswith("floor"):
                        stack_nonzero.append((name, tn, t["alloc_bytes"]))
            w(f"| `{name}` | {tn} | {' / '.join(per)} | {worst:.4g} B/{unit} | {gcs} |")
    w("")
    if all_zero:
        w("**0 bytes.** Every measured thread allocated exactly nothing in every measured window of every run.")
    elif stack_nonzero:
        w("**Not exactly zero everywhere:** " + "; ".join(f"`{p}` {t} {b:,} B" for p, t, b in stack_nonzero)
          + ". A few hundred bytes in a window of 200,000 round trips (or gigabytes) is not a per-message "
          "allocation but a one-off: when the stack takes a path for the first time inside the window (after "
          "a stall: a timeout, a full ring), the compiled code hits an uncommon trap and deoptimises, runs "
          "interpreted for a while, and the JVM allocates while it links call sites there (JFR with "
          "`-XX:-UseTLAB` shows String/byte[] pairs from method-handle and VarHandle linking right after "
          "`unstable_if` deoptimisations). Look at the same run's CPU share and retransmission counters.")
    else:
        w("The stacks' poll threads allocated nothing in their windows; the non-zero figures are java.nio's.")
    w("")

    # ------------------------------------------------------------------ counters
    w("## TCP counters after each test")
    w("")
    w("Each test has its own stacks, so these are the whole test (handshake, warm-up, measurement, close). "
      "The ring pair is lossless: on it, every retransmission is spurious. Per run:")
    w("")
    w("| Test | Stack | Retransmitted segments | Fast retransmits | Timeouts (RTO) | Drops (other than the start-up ARP) | Closed gracefully |")
    w("|---|---|---|---|---|---|---|")
    ring_retx = 0
    ring_fast = 0
    ring_timeouts = 0
    for name in STACK_PHASES:
        rs = results(runs, name)
        if not any(rs):
            continue
        stacks = []
        for r in rs:
            for c in (r or {}).get("counters", []):
                if c["stack"] not in stacks:
                    stacks.append(c["stack"])
        for st in stacks:
            retx, fast, tmo, drops, closed = [], [], [], [], []
            for r in rs:
                c = counters(r, st) if r else None
                if c is None:
                    for lst in (retx, fast, tmo, drops):
                        lst.append("–")
                    closed.append("–")
                    continue
                retx.append(str(c["retransmits"]))
                fast.append(str(c["fast_retransmits"]))
                tmo.append(str(c["timeouts"]))
                d = real_drops(c)
                drops.append(", ".join(f"{v} {k[5:]}" for k, v in d.items()) if d else "0")
                closed.append("yes" if r.get("closed_gracefully") else "no")
                if name.startswith("fastpath"):
                    ring_retx += c["retransmits"]
                    ring_fast += c["fast_retransmits"]
                    ring_timeouts += c["timeouts"]
            w(f"| `{name}` | {st} | {' / '.join(retx)} | {' / '.join(fast)} | {' / '.join(tmo)} | "
              f"{' / '.join(drops)} | {' / '.join(closed)} |")
    w("")
    if ring_retx:
        w(f"Over all runs the ring tests retransmitted {ring_retx:,} segments ({ring_fast:,} fast "
          f"retransmits, {ring_timeouts:,} timeouts) on a link that loses nothing; the peer counted each "
          "retransmitted segment again as a drop (*segment outside the receive window*: it was a duplicate). "
          "See *Findings*.")
    else:
        w("No retransmission in any ring test: on a lossless link, none should happen.")
    w("")

    # ------------------------------------------------------------------ what
    w("## What each test is")
    w("")
    rtt_warm = first.get("rtt_warmup")
    nio_warm = first.get("nio_rtt_warmup")
    tap_warm = first.get("tap_rtt_warmup")
    tap_count = first.get("tap_rtt_count")
    warm_s = f"at least {first['rtt_warmup_s']:g} s and " if first.get("rtt_warmup_s") else ""
    w(f"- **Ping-pong** (`*_rtt`): the client sends a {first.get('message_size', 64)}-byte message (its "
      "sequence number in the first 8 bytes, checked in the echo), the server echoes it, the client takes "
      "the time when the whole echo has arrived and sends the next at once. Warm-up: "
      f"{warm_s}at least {rtt_warm:,} round trips (floor, fastpath), {nio_warm:,} (java.nio), {tap_warm:,} "
      "(net_tap); then "
      f"{int(count or 0):,} measured ({tap_count:,} over net_tap), recorded in an HdrHistogram "
      "(3 significant digits); *max* is exact. The ping-pong then keeps going, unrecorded, until the "
      "allocation sample is taken, so both samples see the same steady state.")
    w("- **`floor_rtt`**: no stack. Thread A transmits one 64-byte frame on port A of a `RingPair` "
      "(`rte_eth_from_rings`, 1024-slot rings), spins on receive until it is back, records; thread B spins "
      "on receive on port B and transmits what arrives straight back. Two burst calls and one ring each way.")
    w("- **`fastpath_rtt`**: two `Stack`s (10.77.1.1 and 10.77.1.2) on the two ports of the same kind of "
      "ring pair, each on its own poll thread (`doWork()` in a loop with `BusySpinIdleStrategy`, as "
      "`StackRunner.busySpin()`), client pinned to CPU 0, server to CPU 1. The server is "
      "`io.fastpath.stack.app.EchoServer` (`connection.send(address, length)` from `onReceive`); both ends "
      "set `noDelay(true)`; default TCP options (timestamps, SACK, window scaling), 256 KiB buffers. The "
      "time includes the rest of the client's duty cycle after `send` (the segment is built and "
      "transmitted at its end), the server's whole duty cycle and the client's receive up to `onReceive`.")
    w("- **`nio_rtt`**: the same ping-pong with blocking `SocketChannel`s and TCP_NODELAY, both ends in the "
      "harness's JVM on 127.0.0.1, one thread each, pinned like the poll threads, direct buffers. "
      "**`nio_rtt_spin`** (not asked for, but it explains the gap): the same with non-blocking sockets and "
      "both threads spinning on `read` returning 0, so no thread ever sleeps: the kernel's TCP and loopback "
      "without the sleep/wake-up.")
    w("- **`tap_rtt`**: one fastpath stack on a net_tap port, its kernel interface moved into a scratch "
      "network namespace (10.99.x.1/24, checksum offload off, IPv6 off); the peer is a single-threaded "
      "Python 3 echo (`recv_into` then `sendall`, TCP_NODELAY) in that namespace. **The Linux side adds its "
      "own latency**: a Python loop, two system calls and a wake-up per message, and the tap device's "
      "`writev`/`read` system calls on fastpath's poll thread (the kernel's receive processing runs inside "
      "that `writev`). This measures the pair, not fastpath alone.")
    w("- **Bulk** (`*_bulk_C`): C connections; the fastpath client keeps every send buffer full from one "
      "64 KiB chunk (`send` on connect and on each `onSendSpace`), the discard server returns everything "
      "from `onReceive` at once. java.nio: a thread per socket on each side, 64 KiB writes and reads, "
      "clients pinned to CPU 0, servers to CPU 1. net_tap: one connection into a Python sink.")
    w("- **Allocation and CPU share** are read around the measured window only; GC counts are the JVM's.")
    w("")

    # ------------------------------------------------------------------ findings
    w("## Findings")
    w("")
    findings = []
    fp = median(values(runs, "fastpath_rtt", "p50_us"))
    fl = median(values(runs, "floor_rtt", "p50_us"))
    nb = median(values(runs, "nio_rtt", "p50_us"))
    ns = median(values(runs, "nio_rtt_spin", "p50_us"))
    tp = median(values(runs, "tap_rtt", "p50_us"))
    if fp and fl:
        findings.append(f"**Latency.** A 64-byte TCP round trip between two fastpath stacks takes {fmt_us(fp)} µs "
                        f"at the median, {fp / fl:.1f}× the {fmt_us(fl)} µs the ring pair needs to move a frame "
                        f"there and back; the {fp - fl:.2f} µs between them is what the two stacks add: a TCP "
                        "send path and a TCP receive path up to the application on each side, one segment each "
                        "way (the ACKs ride on the echoes).")
    if fp and nb:
        spin = (f" java.nio with both threads spinning on non-blocking sockets takes {fmt_us(ns)} µs, "
                f"{ns / fp:.0f}× fastpath: that is the kernel's TCP over loopback plus two system calls a side; "
                "the rest of the blocking figure is sleeping in `read` and being woken up on the other CPU.") if ns else ""
        findings.append(f"**Against the kernel.** Blocking java.nio over loopback: {fmt_us(nb)} µs at the median, "
                        f"{nb / fp:.0f}× fastpath's.{spin}")
    if tp and fp:
        findings.append(f"**Against Linux over net_tap**: {fmt_us(tp)} µs, dominated by the Linux side (the Python "
                        "echo's wake-up and loop, and the tap device's system calls, which fastpath's poll thread "
                        "pays in the PMD's `writev` and `read`); it is a check that the stack interoperates at "
                        "speed, not a measure of fastpath.")
    floors = values(runs, "floor_rtt", "p50_us")
    if len(floors) > 1 and max(floors) > 1.5 * min(floors):
        findings.append(f"**The machine's cross-CPU latency moves.** The floor's p50 ranged from {fmt_us(min(floors))} "
                        f"to {fmt_us(max(floors))} µs between runs, with its threads on their CPUs all the time: "
                        "the cost of handing a cache line from one vCPU to the other depends on where the "
                        "hypervisor runs the two vCPUs at the time, outside anything the guest controls. Compare "
                        "fastpath with the floor of the same run (the per-run ratios), not across runs or machines.")
    fb1 = median(values(runs, "fastpath_bulk_1", "gbit_per_s"))
    fb4 = median(values(runs, "fastpath_bulk_4", "gbit_per_s"))
    nb1 = median(values(runs, "nio_bulk_1", "gbit_per_s"))
    tb1 = median(values(runs, "tap_bulk_1", "gbit_per_s"))
    if fb1:
        four = f" (4 connections: {fmt(fb4)} Gbit/s; the two poll threads are the limit, not a connection)" if fb4 else ""
        nio = (f" java.nio over loopback: {fmt(nb1)} Gbit/s (per run {per_run(runs, 'nio_bulk_1', 'gbit_per_s', fmt)}), "
               "which does different work per byte: loopback's MTU is 65,536 bytes and it neither computes nor "
               "checks checksums (`ethtool -k lo`: checksumming and segmentation offload on), so the kernel moves "
               "about 64 KiB per segment with one copy on each side, and its figure follows the cache traffic "
               "between the vCPUs.") if nb1 else ""
        findings.append(
            f"**Bulk.** One fastpath connection moves {fmt(fb1)} Gbit/s over the ring pair{four}.{nio} fastpath "
            "cuts 1,448-byte segments (the ring port's 1,500-byte MTU); per segment it allocates an mbuf, copies "
            "the payload from the send buffer, computes the TCP checksum in software, and the receiver checks it "
            "again (the application's copy into the send buffer comes on top): at "
            f"{fmt(fb1)} Gbit/s a segment every {1448 * 8 / (fb1 * 1e3):.2f} µs per thread. A larger MTU on the "
            "ring pair, or checksum offload where the port has it, would cut the per-segment work.")
    if tb1:
        findings.append(f"**Bulk into Linux over net_tap**: {fmt(tb1)} Gbit/s, bounded by the tap device (a `writev` "
                        "system call per frame on fastpath's poll thread, which also runs Linux's receive path) and "
                        "by the Python sink.")
    floor_max = max(values(runs, "floor_rtt", "max_us") or [0])
    if floor_max > 1000:
        findings.append(f"**Tails are the machine's.** The floor, which has no stack, has a maximum of "
                        f"{fmt_us(floor_max)} µs too: a poll thread lost its CPU to another process. p99.9 and max "
                        "measure the machine here; p50, and p99 in runs whose CPU share is near 1, measure the "
                        "stack.")
    retx_text = (f" In these runs the ring tests retransmitted {ring_retx:,} segments ({ring_fast:,} fast "
                 f"retransmits, {ring_timeouts:,} timeouts) although the ring lost nothing; the peer counted each "
                 "retransmitted segment again as a drop (*segment outside the receive window*: a duplicate)."
                 if ring_retx else " These runs had no stall long enough to cause one.")
    repro = ("`java --enable-native-access=ALL-UNNAMED --add-exports java.base/jdk.internal.misc=ALL-UNNAMED "
             "-cp perf/target/benchmarks.jar io.fastpath.perf.SpuriousRetransmitRepro` replays it step by step in "
             "invoker mode (exit code 1 while the bug is there, 0 when it is not)")
    mechanism = (
        "In a ping-pong a spurious retransmission (after a stall: see below) used to repeat itself: the peer "
        "answers the duplicate with a pure ACK; that ACK reaches the client while its *next* message is in "
        "flight; the stack counted an ACK without payload as a duplicate ACK although SACK was in use and it "
        "carried no SACK block, and early retransmit's threshold with one segment outstanding was "
        "`Math.max(1, outstanding - 1)` = 1; so the client entered recovery and retransmitted a message that "
        "was not lost, whose duplicate made the next pure ACK. RFC 5827 applies early retransmit only with at "
        "least two segments outstanding, and RFC 6675 §2 counts an ACK as a duplicate on a SACK connection only "
        "if it reports new SACKed data.")
    code = facts.get("repro_exit_code")
    if code == 0:
        findings.append("**Spurious fast retransmit from a pure ACK: fixed at this commit.** " + mechanism + " "
                        + repro + f"; at this commit it reports none (\"{facts.get('repro_last_line', '')}\").")
    elif code == 1:
        findings.append("**Spurious fast retransmit from a pure ACK (a stack bug).** " + mechanism.replace(
            "used to repeat", "repeats").replace("counted", "counts").replace("was in use", "is in use")
            .replace("threshold with one segment outstanding was", "threshold with one segment outstanding is")
            .replace("entered recovery and retransmitted", "enters recovery and retransmits")
            .replace("made the next", "makes the next") + " " + repro + "; at this commit it reproduces.")
    findings.append(
        "**Stalls make retransmissions on a lossless link.**" + retx_text + " When a poll thread loses its CPU "
        "for longer than the tail-loss probe timeout (max(2·SRTT, 10 ms) + 50 ms with one segment in flight, "
        "so 60 ms here) or the RTO (200 ms minimum), the other side retransmits data that was never lost; in "
        "bulk transfer a spurious RTO also sends it back to one segment of congestion window (go-back-N from "
        "SND.UNA). F-RTO (RFC 5682) or undoing on timestamps (RFC 4015) would detect those; the stack sends "
        "no D-SACK (RFC 2883) for the duplicates either, which would let the sender undo.")
    if findings:
        for f in findings:
            w(f"- {f}")
    else:
        w("- (none generated: see the tables)")
    w("")
    w("Raw files of these runs: " + ", ".join(f"`{p}`" for p in facts.get("raw_files", [r['_path'] for r in runs]))
      + ".")
    w("")
    return "\n".join(out)


def load_facts(base):
    try:
        with open(base + ".facts.json", encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="docs/perf/raw/tcp-<stamp> (without .runN.json)")
    parser.add_argument("--out", required=True, help="markdown to write")
    parser.add_argument("--previous", help="another run set's base, shown side by side (run-tcp.sh: the one before)")
    args = parser.parse_args()
    runs = load_runs(args.base)
    facts = load_facts(args.base)
    previous = load_runs(args.previous) if args.previous else None
    prev_facts = load_facts(args.previous) if args.previous else None
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(render(runs, facts, previous, prev_facts))
    print(f"wrote {args.out}")
    for name, _ in RTT:
        p50 = median(values(runs, name, "p50_us"))
        if p50 is not None:
            print(f"  {name:16} p50 {fmt_us(p50):>8} µs  p99 {fmt_us(median(values(runs, name, 'p99_us'))):>8}  "
                  f"p99.9 {fmt_us(median(values(runs, name, 'p999_us'))):>8}  max {fmt_us(median(values(runs, name, 'max_us'))):>8}")
    for name, _ in BULK:
        g = median(values(runs, name, "gbit_per_s"))
        if g is not None:
            print(f"  {name:16} {g:7.2f} Gbit/s  (per run {per_run(runs, name, 'gbit_per_s', fmt)})")


if __name__ == "__main__":
    main()
