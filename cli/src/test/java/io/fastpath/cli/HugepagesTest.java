package io.fastpath.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 12 deliverable 1: EAL on hugepages, for real. The test reserves 2 MiB pages itself, and each
 * {@code fastpath up} runs in its own JVM (EAL initialises once per process) inside a private mount namespace
 * ({@code unshare --mount}) where a hugetlbfs is mounted at a fresh temporary directory: other processes on the
 * machine (other test JVMs) see free pages but no mount, so they keep running on {@code --no-huge}. Linux pings
 * the stack over net_tap, and the memory is proved hugepage-backed from outside: the kernel's free page count
 * drops by what EAL reserved, and the JVM's /proc/PID/smaps shows that much hugetlb memory mapped from files of
 * the mount. Afterwards the pages are free again (the files were unlinked), the mount is gone with its namespace,
 * the directory is removed and the reservation restored, also on failure.
 */
class HugepagesTest {
    private static final Path POOL = Path.of("/sys/kernel/mm/hugepages/hugepages-2048kB");
    /** 512 MiB for EAL's -m 512 and 64 MiB of slack. */
    private static final int PAGES = 288;
    private static long originalPages = -1;
    private static Path mountDir;

    @BeforeAll
    static void reserve() throws IOException {
        assumeTrue(Files.isDirectory(POOL), "this kernel offers no 2 MiB hugepages (" + POOL + " missing)");
        assumeTrue(Shell.has("unshare") && Shell.has("mount"), "unshare(1) and mount(8) are needed");
        originalPages = read("nr_hugepages");
        long target = originalPages - read("free_hugepages") + PAGES;
        try {
            Files.writeString(POOL.resolve("nr_hugepages"), Long.toString(Math.max(target, originalPages)));
        } catch (IOException e) {
            originalPages = -1; // nothing changed, nothing to restore
            assumeTrue(false, "cannot reserve hugepages (" + e + "): the test needs root; EAL on hugepages is not"
                + " tested");
        }
        long free = read("free_hugepages");
        assumeTrue(free >= PAGES, "the kernel reserved only " + free + " free 2 MiB pages of the " + PAGES
            + " asked for (writing " + target + " to " + POOL.resolve("nr_hugepages") + "): memory too fragmented"
            + " or a hugetlb cgroup limit; EAL on hugepages is not tested on this machine");
        mountDir = Files.createTempDirectory("fastpath-huge");
    }

    @AfterAll
    static void restore() throws IOException {
        if (mountDir != null) {
            // Normally mounted only inside the child's namespace, gone with it; this catches anything else.
            Shell.exec(10, "umount", mountDir.toString());
            Files.deleteIfExists(mountDir);
        }
        if (originalPages >= 0) {
            Files.writeString(POOL.resolve("nr_hugepages"), Long.toString(originalPages));
        }
    }

    private static long read(String file) throws IOException {
        return Long.parseLong(Files.readString(POOL.resolve(file)).trim());
    }

    /** A running {@code fastpath up} in its own mount namespace, and its start-up line. */
    private record Up(Process shell, ProcessHandle jvm, String banner, BufferedReader out) {
    }

    private static Up launchUp(String iface, String cidr, String name, String... eal) throws Exception {
        return launch("up", iface, cidr, name, eal);
    }

    private static Up launch(String fastpathCommand, String iface, String cidr, String name, String... more)
        throws Exception {
        List<String> command = new ArrayList<>(List.of("unshare", "--mount", "--propagation", "private", "sh", "-c",
            // Mount, run, unmount: the shell stays so the mount is undone even if the JVM fails.
            "mount -t hugetlbfs -o pagesize=2M nodev \"$0\" || exit 97; \"$@\"; rc=$?; umount \"$0\"; exit $rc",
            mountDir.toString(),
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--enable-native-access=ALL-UNNAMED", "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "-cp", System.getProperty("java.class.path"), Main.class.getName(),
            fastpathCommand, "--vdev", "net_tap" + iface + ",iface=" + iface, "--ip", cidr, "--name", name,
            "--idle", "backoff"));
        command.addAll(List.of(more));
        Process shell = new ProcessBuilder(command).redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(shell.getInputStream(), StandardCharsets.UTF_8));
        StringBuilder seen = new StringBuilder();
        String banner = null;
        String line;
        while ((line = out.readLine()) != null && !line.equals("ready")) {
            seen.append(line).append('\n');
            if (line.startsWith("fastpath ")) {
                banner = line;
            }
        }
        if (line == null) {
            shell.waitFor(10, TimeUnit.SECONDS);
            throw new AssertionError("fastpath up ended before 'ready':\n" + seen);
        }
        ProcessHandle jvm = shell.toHandle().children().findFirst()
            .orElseThrow(() -> new AssertionError("no JVM under the shell"));
        return new Up(shell, jvm, banner, out);
    }

    /** Sends SIGTERM to the JVM, expects exit 0 (shell and all) and counters that show the pings answered. */
    private static String stop(Up up) throws Exception {
        Shell.run("kill", "-TERM", Long.toString(up.jvm().pid()));
        StringBuilder rest = new StringBuilder();
        String line;
        while ((line = up.out().readLine()) != null) {
            rest.append(line).append('\n');
        }
        assertTrue(up.shell().waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, up.shell().exitValue(), rest.toString());
        return rest.toString();
    }

    /** Hugetlb kB mapped by this process from files under {@code dir} (deleted ones included). */
    private static long hugetlbKbFrom(ProcessHandle process, Path dir) throws IOException {
        long kb = 0;
        boolean inDir = false;
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "smaps"))) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 5 && f[0].contains("-") && f[0].matches("[0-9a-f]+-[0-9a-f]+")) {
                inDir = f.length >= 6 && f[5].startsWith(dir.toString() + "/");
            } else if (inDir && (line.startsWith("Private_Hugetlb:") || line.startsWith("Shared_Hugetlb:"))) {
                kb += Long.parseLong(f[1]);
            }
        }
        return kb;
    }

    private static void pingWorks(NetNs ns, String stackIp) {
        String ping = ns.exec("ping", "-c", "5", "-i", "0.1", "-s", "1400", "-W", "2", stackIp);
        assertTrue(ping.contains("5 received"), ping);
    }

    @Test
    void forcedHugepagesFromAGivenMountBackThePoolsWhileLinuxPingsTheStack() throws Exception {
        String iface = NetNs.uniqueName("t");
        long freeBefore = read("free_hugepages");
        try (NetNs ns = NetNs.create()) {
            Up up = launchUp(iface, "10.93.0.2/24", NetNs.uniqueName("s"), "--huge", "--huge-dir", mountDir.toString());
            try {
                assertTrue(up.banner().contains("; eal: hugepages 512 MiB (at " + mountDir + ", free 2 MiB x "),
                    up.banner());
                ns.adopt(iface, "10.93.0.1/24");
                pingWorks(ns, "10.93.0.2");
                long taken = freeBefore - read("free_hugepages");
                assertTrue(taken >= 256, "EAL's -m 512 takes 256 pages of 2 MiB; the kernel shows " + taken);
                long kb = hugetlbKbFrom(up.jvm(), mountDir);
                assertTrue(kb >= 512 * 1024, "the JVM maps " + kb + " kB of hugetlb memory from " + mountDir);
                String rest = stop(up);
                assertTrue(rest.contains("icmp echo replies sent"), rest);
            } finally {
                up.shell().destroyForcibly();
                up.jvm().destroyForcibly();
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (read("free_hugepages") < freeBefore && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(freeBefore, read("free_hugepages"), "every page is back once the process is gone");
        assertTrue(Files.list(mountDir).findAny().isEmpty(), "nothing was left in the mount point");
    }

    /** TCP too: {@code echo} with no EAL flag finds the mount and serves Linux clients from hugepage mbufs. */
    @Test
    void withoutFlagsAMountedHugetlbfsWithFreePagesIsFoundAndCarriesTcp() throws Exception {
        String iface = NetNs.uniqueName("t");
        long freeBefore = read("free_hugepages");
        try (NetNs ns = NetNs.create()) {
            Up up = launch("echo", iface, "10.94.0.2/24", NetNs.uniqueName("s"), "--listen", "7");
            try {
                assertTrue(up.banner().startsWith("fastpath echo on 10.94.0.2:7"), up.banner());
                assertTrue(up.banner().contains("; eal: hugepages 512 MiB (free 2 MiB x "), up.banner());
                ns.adopt(iface, "10.94.0.1/24");
                ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
                pingWorks(ns, "10.94.0.2");
                Shell.Result client = ns.tryExec(60, "/usr/bin/python3", "-c", CommandLineTest.PYTHON_ECHO_CLIENT,
                    "10.94.0.2", "7", "4");
                assertEquals("OK", client.output().strip(), client.output());
                assertTrue(freeBefore - read("free_hugepages") >= 256);
                assertTrue(hugetlbKbFrom(up.jvm(), mountDir) >= 512 * 1024);
                String rest = stop(up);
                assertTrue(rest.contains(" " + (4 << 20) + " bytes echoed"), rest);
            } finally {
                up.shell().destroyForcibly();
                up.jvm().destroyForcibly();
            }
        }
    }

    @Test
    void noHugeIsHonouredWhileHugepagesAreThere() throws Exception {
        String iface = NetNs.uniqueName("t");
        long freeBefore = read("free_hugepages");
        try (NetNs ns = NetNs.create()) {
            Up up = launchUp(iface, "10.95.0.2/24", NetNs.uniqueName("s"), "--no-huge");
            try {
                assertTrue(
                    up.banner().contains("; eal: no hugepages (--no-huge, 512 MiB of ordinary memory: as asked)"),
                    up.banner());
                ns.adopt(iface, "10.95.0.1/24");
                pingWorks(ns, "10.95.0.2");
                assertEquals(freeBefore, read("free_hugepages"), "no hugepage taken");
                assertEquals(0, hugetlbKbFrom(up.jvm(), mountDir));
                stop(up);
            } finally {
                up.shell().destroyForcibly();
                up.jvm().destroyForcibly();
            }
        }
    }
}
