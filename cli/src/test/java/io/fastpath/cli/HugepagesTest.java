package io.fastpath.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 12 deliverable 1: EAL on hugepages, for real. Each {@code fastpath} command runs in its own JVM (EAL
 * initialises once per process) inside a mount namespace of its own, where a hugetlbfs is mounted at a fresh
 * temporary directory; Linux pings the stack over net_tap, and the memory is proved hugepage-backed from outside:
 * the JVM's /proc/PID/status and smaps show that much hugetlb memory mapped from files of the mount, and the
 * kernel counts at least that many pages in use. Afterwards the pages are free again (the files were unlinked),
 * the mount is gone with its namespace, the directory is removed and the reservation restored.
 *
 * <p>Nobody else may take the pages the test reserves:
 * <ul>
 * <li>The mount is invisible outside: {@code unshare --mount --propagation private} gives the child shell a new
 * mount namespace (CLONE_NEWNS) whose mounts are all private, so the hugetlbfs it mounts is propagated to no other
 * namespace. The only processes in that namespace are that shell and the fastpath JVM it starts; this JVM, every
 * other test JVM and every other process of the machine stay in theirs and see free pages but no hugetlbfs, so an
 * EAL starting there in AUTO mode runs on {@code --no-huge}. {@link #launch} checks it each time: the child's
 * namespace is another one, it has the mount, this JVM's has not.</li>
 * <li>That holds only if no other hugetlbfs is mounted where those processes live (systemd mounts
 * /dev/hugepages by default): then they would see free pages and a mount, and take ours. The test is skipped
 * (an assumption that says why) when this JVM sees any hugetlbfs, and every run names its mount with
 * {@code --huge-dir} all the same.</li>
 * <li>Two copies of this test (other builds on the machine) would change the same machine-wide reservation: a
 * lock file ({@link #LOCK}) makes them take turns.</li>
 * </ul>
 * The free-page checks are then exact; what proves hugepages are used is the JVM's own count (status, smaps),
 * the kernel's count is only required to agree with it.
 *
 * <p>The reservation ({@code nr_hugepages}, machine-wide) is raised in each test just before the child starts
 * and restored after that test, and also from a JVM shutdown hook (a SIGTERM to this JVM, as when a build is
 * stopped, stops the child and restores it too).
 */
class HugepagesTest {
    private static final Path POOL = Path.of("/sys/kernel/mm/hugepages/hugepages-2048kB");
    /** 512 MiB for EAL's -m 512 and 64 MiB of slack. */
    private static final int PAGES = 288;
    /** Held while a HugepagesTest runs, by whichever JVM runs it (/tmp is the machine's, not the build's). */
    static final Path LOCK = Path.of("/tmp/fastpath-hugepages-test.lock");

    /** nr_hugepages before this JVM raised it, or -1 when it did not (guarded by the class). */
    private static long originalPages = -1;
    private static Path mountDir;
    private static FileChannel lockFile;
    private static FileLock lock;
    private static Thread restoreHook;
    /** Children still running, stopped by the shutdown hook. */
    private static final List<Process> children = new CopyOnWriteArrayList<>();

    /** Why the tests cannot run here, or null: each test is skipped with it (so the reports say why). */
    private static String skip;

    @BeforeAll
    static void setUp() throws Exception {
        skip = whyNot();
        if (skip != null) {
            return;
        }
        lockFile = FileChannel.open(LOCK, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
        while ((lock = lockFile.tryLock()) == null) {
            if (System.nanoTime() > deadline) {
                lockFile.close();
                lockFile = null;
                skip = "another HugepagesTest has held " + LOCK + " for 10 minutes";
                return;
            }
            Thread.sleep(200);
        }
        mountDir = Files.createTempDirectory("fastpath-huge");
        restoreHook = new Thread(HugepagesTest::cleanUp, "HugepagesTest restore");
        Runtime.getRuntime().addShutdownHook(restoreHook);
    }

    private static String whyNot() throws IOException {
        if (!Files.isDirectory(POOL)) {
            return "this kernel offers no 2 MiB hugepages (" + POOL + " missing)";
        }
        if (!Shell.has("unshare") || !Shell.has("mount")) {
            return "unshare(1) and mount(8) are needed";
        }
        if (!Files.isWritable(POOL.resolve("nr_hugepages"))) {
            return "cannot reserve hugepages (" + POOL + "/nr_hugepages not writable): the test needs root; EAL on"
                + " hugepages is not tested";
        }
        List<String> others = hugetlbfsMounts(Path.of("/proc/self/mounts"));
        if (!others.isEmpty()) {
            return "a hugetlbfs is mounted where the processes of this machine see it (" + String.join(", ", others)
                + "): any EAL started meanwhile (another test JVM) would see the pages this test reserves and a"
                + " mount, and could take them; EAL on hugepages is not tested while it is mounted";
        }
        return null;
    }

    @BeforeEach
    void skipWhenItCannotRun() {
        assumeTrue(skip == null, skip);
    }

    @AfterEach
    void restoreAfterEach() throws IOException {
        restorePages();
    }

    @AfterAll
    static void tearDown() {
        cleanUp();
        if (restoreHook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(restoreHook);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs (or ran) anyway; cleanUp is idempotent
            }
        }
    }

    /** Stops the children, restores nr_hugepages, removes the mount point, lets the next HugepagesTest run. */
    private static synchronized void cleanUp() {
        for (Process p : children) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        try {
            restorePages(); // pages the children still hold become surplus and are freed when they exit
        } catch (IOException e) {
            System.err.println("HugepagesTest: could not restore nr_hugepages: " + e);
        }
        if (mountDir != null) {
            // Normally mounted only inside the child's namespace, gone with it; this catches anything else.
            Shell.exec(10, "umount", mountDir.toString());
            try {
                Files.deleteIfExists(mountDir);
            } catch (IOException e) {
                System.err.println("HugepagesTest: could not remove " + mountDir + ": " + e);
            }
            mountDir = null;
        }
        try {
            if (lock != null) {
                lock.release();
                lock = null;
            }
            if (lockFile != null) {
                lockFile.close();
                lockFile = null;
            }
        } catch (IOException e) {
            System.err.println("HugepagesTest: " + e);
        }
    }

    /**
     * Raises nr_hugepages until {@link #PAGES} are free, just before a child starts (skips the test when the
     * kernel cannot). Restored by {@link #restorePages}.
     */
    private static synchronized void reservePages() throws IOException {
        if (originalPages < 0) {
            originalPages = read("nr_hugepages");
        }
        long target = read("nr_hugepages") - read("free_hugepages") + PAGES;
        try {
            Files.writeString(POOL.resolve("nr_hugepages"), Long.toString(Math.max(target, originalPages)));
        } catch (IOException e) {
            restorePages();
            assumeTrue(false, "cannot reserve hugepages (" + e + "): EAL on hugepages is not tested");
        }
        long free = read("free_hugepages");
        if (free < PAGES) {
            restorePages();
            assumeTrue(false, "the kernel reserved only " + free + " free 2 MiB pages of the " + PAGES
                + " asked for (writing " + target + " to " + POOL.resolve("nr_hugepages") + "): memory too"
                + " fragmented or a hugetlb cgroup limit; EAL on hugepages is not tested on this machine");
        }
    }

    private static synchronized void restorePages() throws IOException {
        if (originalPages >= 0) {
            Files.writeString(POOL.resolve("nr_hugepages"), Long.toString(originalPages));
            originalPages = -1;
        }
    }

    private static long read(String file) throws IOException {
        return Long.parseLong(Files.readString(POOL.resolve(file)).trim());
    }

    /** The mount points of every hugetlbfs in a /proc/PID/mounts file. */
    private static List<String> hugetlbfsMounts(Path mounts) throws IOException {
        List<String> found = new ArrayList<>();
        for (String line : Files.readAllLines(mounts)) {
            String[] f = line.split(" ");
            if (f.length >= 3 && f[2].equals("hugetlbfs")) {
                found.add(f[1]);
            }
        }
        return found;
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
        children.add(shell);
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
        assertPrivateMount(jvm);
        return new Up(shell, jvm, banner, out);
    }

    /** The JVM's hugetlbfs is in a mount namespace of its own, and this JVM's (everybody else's) has none. */
    private static void assertPrivateMount(ProcessHandle jvm) throws IOException {
        Path theirs = Path.of("/proc", Long.toString(jvm.pid()));
        assertNotEquals(Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")),
            Files.readSymbolicLink(theirs.resolve("ns/mnt")), "the child has a mount namespace of its own");
        assertEquals(List.of(mountDir.toString()), hugetlbfsMounts(theirs.resolve("mounts")),
            "the child sees its hugetlbfs, and only that");
        assertEquals(List.of(), hugetlbfsMounts(Path.of("/proc/self/mounts")), "nobody outside sees it");
    }

    /** Hugetlb memory the process maps, in kB (/proc/PID/status HugetlbPages: every size, every file). */
    private static long hugetlbKb(ProcessHandle process) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
            if (line.startsWith("HugetlbPages:")) {
                return Long.parseLong(line.substring("HugetlbPages:".length()).trim().split("\\s+")[0]);
            }
        }
        throw new AssertionError("no HugetlbPages in /proc/" + process.pid() + "/status");
    }

    /**
     * The JVM maps at least 512 MiB of hugetlb memory from files of the mount, and the kernel counts at least
     * that many 2 MiB pages in use.
     */
    private static void assertOnHugepages(Up up) throws IOException {
        long kb = hugetlbKbFrom(up.jvm(), mountDir);
        assertTrue(kb >= 512 * 1024, "the JVM maps " + kb + " kB of hugetlb memory from " + mountDir);
        long all = hugetlbKb(up.jvm());
        assertTrue(all >= kb, "status HugetlbPages " + all + " kB, smaps " + kb + " kB");
        long inUse = read("nr_hugepages") - read("free_hugepages");
        assertTrue(inUse >= kb / 2048, "the kernel counts " + inUse + " pages in use, the JVM maps " + kb / 2048);
    }

    /** Once the JVM is gone, every page it took is free again and nothing is left in the mount point. */
    private static void assertPagesBack(Up up, long freeBefore) throws Exception {
        up.jvm().onExit().get(30, TimeUnit.SECONDS);
        up.shell().waitFor(30, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (read("free_hugepages") < freeBefore && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        long free = read("free_hugepages");
        assertTrue(free >= freeBefore, "every page is back once the process is gone: " + free + " free, "
            + freeBefore + " before");
        try (var files = Files.list(mountDir)) {
            assertTrue(files.findAny().isEmpty(), "nothing was left in the mount point");
        }
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
        try (NetNs ns = NetNs.create()) {
            reservePages();
            long freeBefore = read("free_hugepages");
            Up up = launchUp(iface, "10.93.0.2/24", NetNs.uniqueName("s"), "--huge", "--huge-dir", mountDir.toString());
            try {
                assertTrue(up.banner().contains("; eal: hugepages 512 MiB (at " + mountDir + ", free 2 MiB x "),
                    up.banner());
                ns.adopt(iface, "10.93.0.1/24");
                pingWorks(ns, "10.93.0.2");
                long taken = freeBefore - read("free_hugepages");
                assertTrue(taken >= 256, "EAL's -m 512 takes 256 pages of 2 MiB; the kernel shows " + taken);
                assertOnHugepages(up);
                String rest = stop(up);
                assertTrue(rest.contains("icmp echo replies sent"), rest);
                assertPagesBack(up, freeBefore);
            } finally {
                up.shell().destroyForcibly();
                up.jvm().destroyForcibly();
                children.remove(up.shell());
            }
        }
    }

    /**
     * TCP too: {@code echo} without {@code --huge} (the automatic choice) takes the free pages of the mount it is
     * given and serves Linux clients from hugepage mbufs. The mount is named with {@code --huge-dir}: without it
     * EAL takes the first hugetlbfs in /proc/mounts, which is ours only while no other is mounted (checked once,
     * before the class runs).
     */
    @Test
    void withoutHugeTheAutomaticChoiceTakesTheFreePagesOfTheMountAndCarriesTcp() throws Exception {
        String iface = NetNs.uniqueName("t");
        try (NetNs ns = NetNs.create()) {
            reservePages();
            long freeBefore = read("free_hugepages");
            Up up = launch("echo", iface, "10.94.0.2/24", NetNs.uniqueName("s"), "--listen", "7", "--huge-dir",
                mountDir.toString());
            try {
                assertTrue(up.banner().startsWith("fastpath echo on 10.94.0.2:7"), up.banner());
                assertTrue(up.banner().contains("; eal: hugepages 512 MiB (at " + mountDir + ", free 2 MiB x "),
                    up.banner());
                ns.adopt(iface, "10.94.0.1/24");
                ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
                pingWorks(ns, "10.94.0.2");
                Shell.Result client = ns.tryExec(60, "/usr/bin/python3", "-c", CommandLineTest.PYTHON_ECHO_CLIENT,
                    "10.94.0.2", "7", "4");
                assertEquals("OK", client.output().strip(), client.output());
                assertTrue(freeBefore - read("free_hugepages") >= 256);
                assertOnHugepages(up);
                String rest = stop(up);
                assertTrue(rest.contains(" " + (4 << 20) + " bytes echoed"), rest);
                assertPagesBack(up, freeBefore);
            } finally {
                up.shell().destroyForcibly();
                up.jvm().destroyForcibly();
                children.remove(up.shell());
            }
        }
    }

    @Test
    void noHugeIsHonouredWhileHugepagesAreThere() throws Exception {
        String iface = NetNs.uniqueName("t");
        try (NetNs ns = NetNs.create()) {
            reservePages();
            long freeBefore = read("free_hugepages");
            Up up = launchUp(iface, "10.95.0.2/24", NetNs.uniqueName("s"), "--no-huge");
            try {
                assertTrue(
                    up.banner().contains("; eal: no hugepages (--no-huge, 512 MiB of ordinary memory: as asked)"),
                    up.banner());
                ns.adopt(iface, "10.95.0.1/24");
                pingWorks(ns, "10.95.0.2");
                assertEquals(0, hugetlbKb(up.jvm()), "no hugepage mapped");
                assertTrue(read("free_hugepages") >= freeBefore, "no hugepage taken");
                stop(up);
            } finally {
                up.shell().destroyForcibly();
                up.jvm().destroyForcibly();
                children.remove(up.shell());
            }
        }
    }
}
