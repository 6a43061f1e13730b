package io.fastpath.dpdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Eal.Args#plan} on machines described by fake sysfs/proc files: hugepages present or not, forced either
 * way, PCI allow-list, lcores, socket memory, and extra arguments that win. No EAL is started.
 */
class EalArgsTest {
    @TempDir
    Path root;

    /** Mount directories this (pretend) user may not write to; every other one is writable. */
    private final Set<Path> unwritable = new HashSet<>();

    /** A machine with {@code free} of {@code total} 2 MiB pages and these mount lines. */
    private Hugepages machine(long total, long free, String... mountLines) throws IOException {
        Path sys = root.resolve("sys");
        Path two = sys.resolve("hugepages-2048kB");
        Files.createDirectories(two);
        Files.writeString(two.resolve("nr_hugepages"), total + "\n");
        Files.writeString(two.resolve("free_hugepages"), free + "\n");
        Path one = sys.resolve("hugepages-1048576kB");
        Files.createDirectories(one);
        Files.writeString(one.resolve("nr_hugepages"), "0\n");
        Files.writeString(one.resolve("free_hugepages"), "0\n");
        Path mounts = root.resolve("mounts");
        Files.writeString(mounts, "proc /proc proc rw,relatime 0 0\n" + String.join("\n", mountLines) + "\n");
        Path meminfo = root.resolve("meminfo");
        Files.writeString(meminfo, "MemTotal:       24000000 kB\nHugepagesize:       2048 kB\n");
        return Hugepages.read(sys, mounts, meminfo, dir -> !unwritable.contains(dir));
    }

    private static final String DEV_HUGEPAGES = "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0";

    @Test
    void noHugepagesReservedFallsBackToNoHugeAsToday() throws IOException {
        Eal.Plan plan = Eal.Args.defaults().plan(machine(0, 0, DEV_HUGEPAGES));
        assertFalse(plan.hugepages());
        assertEquals(List.of("fastpath", "--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--no-telemetry"),
            plan.argv().subList(0, 7));
        assertTrue(plan.memory().startsWith("no hugepages (--no-huge, 512 MiB of ordinary memory: no free hugepages"),
            plan.memory());
    }

    @Test
    void freeHugepagesWithoutAMountFallBackAndSaySo() throws IOException {
        Eal.Plan plan = Eal.Args.defaults().plan(machine(512, 512));
        assertFalse(plan.hugepages());
        assertTrue(plan.argv().contains("--no-huge"));
        assertTrue(plan.memory().contains("no hugetlbfs mounted (free hugepages: 2 MiB x 512 free of 512"),
            plan.memory());
    }

    @Test
    void freeAndMountedHugepagesAreUsedWithAPrivateFilePrefixAndUnlinkedFiles() throws IOException {
        Eal.Plan plan = Eal.Args.defaults().plan(machine(256, 256, DEV_HUGEPAGES));
        assertTrue(plan.hugepages());
        assertFalse(plan.argv().contains("--no-huge"));
        assertTrue(plan.argv().contains("--file-prefix=fastpath-" + ProcessHandle.current().pid()),
            plan.argv()::toString);
        assertTrue(plan.argv().contains("--huge-unlink"));
        int m = plan.argv().indexOf("-m");
        assertEquals("512", plan.argv().get(m + 1), "hugepage memory reserved at start-up");
        assertTrue(plan.argv().contains("--no-pci"));
        assertEquals("hugepages 512 MiB (free 2 MiB x 256 free of 256, 1 GiB x 0 free of 0)", plan.memory());
    }

    @Test
    void tooFewFreeHugepagesFallBackWithTheNumbers() throws IOException {
        Eal.Plan plan = Eal.Args.defaults().plan(machine(256, 100, DEV_HUGEPAGES));
        assertFalse(plan.hugepages());
        assertTrue(plan.memory().contains("only 200 MiB of hugepages free and mounted, 512 MiB needed"), plan.memory());
        Eal.Plan smaller = Eal.Args.defaults().memoryMb(128).plan(machine(256, 100, DEV_HUGEPAGES));
        assertTrue(smaller.hugepages(), smaller.memory());
    }

    @Test
    void hugeDirMustBeAHugetlbfsMountWithFreePagesOfItsSize() throws IOException {
        Hugepages m = machine(256, 256, "nodev /tmp/hp hugetlbfs rw,relatime,pagesize=2M 0 0",
            "nodev /tmp/gp hugetlbfs rw,relatime,pagesize=1G 0 0");
        Eal.Plan plan = Eal.Args.defaults().hugeDir(Path.of("/tmp/hp")).plan(m);
        assertTrue(plan.hugepages());
        assertTrue(plan.argv().contains("--huge-dir=/tmp/hp"));
        assertTrue(plan.memory().contains("at /tmp/hp"), plan.memory());
        assertFalse(Eal.Args.defaults().hugeDir(Path.of("/tmp/gp")).plan(m).hugepages(), "no free 1 GiB pages");
        Eal.Plan notMounted = Eal.Args.defaults().hugeDir(Path.of("/tmp/none")).plan(m);
        assertFalse(notMounted.hugepages());
        assertTrue(notMounted.memory().contains("no hugetlbfs mounted at /tmp/none"), notMounted.memory());
        // The same through --eal's extra arguments.
        assertFalse(Eal.Args.defaults().add("--huge-dir").add("/tmp/none").plan(m).hugepages());
    }

    @Test
    void forcingHugepagesFailsBeforeEalWhenThereAreNone() throws IOException {
        Hugepages none = machine(0, 0);
        IllegalStateException e = assertThrows(IllegalStateException.class,
            () -> Eal.Args.defaults().memory(Eal.Args.Memory.HUGEPAGES).plan(none));
        assertTrue(e.getMessage().startsWith("hugepages asked for, but no free hugepages"), e.getMessage());
        assertTrue(Eal.Args.defaults().memory(Eal.Args.Memory.HUGEPAGES)
            .plan(machine(256, 256, DEV_HUGEPAGES)).hugepages());
    }

    @Test
    void forcingNoHugeIgnoresHugepagesThatArePresent() throws IOException {
        Hugepages plenty = machine(1024, 1024, DEV_HUGEPAGES);
        Eal.Plan plan = Eal.Args.defaults().memory(Eal.Args.Memory.NO_HUGE).plan(plenty);
        assertFalse(plan.hugepages());
        assertTrue(plan.argv().contains("--no-huge"));
        assertFalse(plan.argv().stream().anyMatch(a -> a.startsWith("--file-prefix")));
        assertEquals("no hugepages (--no-huge, 512 MiB of ordinary memory: as asked)", plan.memory());
        Eal.Plan viaExtra = Eal.Args.defaults().add("--no-huge").plan(plenty);
        assertFalse(viaExtra.hugepages());
        assertEquals(1, viaExtra.argv().stream().filter("--no-huge"::equals).count());
    }

    @Test
    void pciDevicesAreAllowedOneByOneInsteadOfNoPci() throws IOException {
        Eal.Plan plan = Eal.Args.defaults().pci("0000:03:00.0").pci("0000:03:00.1,rxq_cqe_comp_en=0")
            .plan(machine(0, 0));
        assertFalse(plan.argv().contains("--no-pci"));
        int a = plan.argv().indexOf("-a");
        assertEquals(List.of("-a", "0000:03:00.0", "-a", "0000:03:00.1,rxq_cqe_comp_en=0"),
            plan.argv().subList(a, a + 4));
        assertFalse(Eal.Args.defaults().add("-a").add("0000:04:00.0").plan(machine(0, 0)).argv().contains("--no-pci"),
            "an allow-list in the extra arguments is not contradicted by --no-pci");
        assertThrows(IllegalArgumentException.class, () -> Eal.Args.defaults().pci(" "));
    }

    @Test
    void pciDeviceNamesAreTheEthdevNames() {
        assertEquals("0000:03:00.0", EthDevPort.deviceName("0000:03:00.0"));
        assertEquals("0000:03:00.0", EthDevPort.deviceName("03:00.0"));
        assertEquals("0000:af:00.1", EthDevPort.deviceName("0000:AF:00.1,txq_inline=128"));
        assertEquals("net_tap0", EthDevPort.deviceName("net_tap0"));
    }

    @Test
    void lcoresReplaceTheFloatingDefault() throws IOException {
        List<String> floating = Eal.Args.defaults().plan(machine(0, 0)).argv();
        assertTrue(floating.contains("--lcores=0@(0-" + (Runtime.getRuntime().availableProcessors() - 1) + ")"));
        List<String> pinned = Eal.Args.defaults().lcores("0@1,1@2").plan(machine(0, 0)).argv();
        assertTrue(pinned.contains("--lcores=0@1,1@2"));
        assertEquals(1, pinned.stream().filter(x -> x.startsWith("--lcores")).count());
        List<String> viaExtra = Eal.Args.defaults().add("-l").add("1").plan(machine(0, 0)).argv();
        assertFalse(viaExtra.stream().anyMatch(x -> x.startsWith("--lcores")), viaExtra::toString);
        assertThrows(IllegalArgumentException.class, () -> Eal.Args.defaults().lcores(""));
    }

    @Test
    void socketMemoryReplacesMinusMAndNeedsHugepages() throws IOException {
        Eal.Plan plan = Eal.Args.defaults().socketMem("256,0").plan(machine(256, 256, DEV_HUGEPAGES));
        assertTrue(plan.hugepages());
        assertTrue(plan.argv().contains("--socket-mem=256,0"));
        assertFalse(plan.argv().contains("-m"), "EAL refuses -m with --socket-mem");
        assertTrue(plan.memory().startsWith("hugepages --socket-mem 256,0"), plan.memory());
        IllegalStateException e = assertThrows(IllegalStateException.class,
            () -> Eal.Args.defaults().socketMem("256,0").plan(machine(0, 0)));
        assertTrue(e.getMessage().contains("needs hugepages"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Eal.Args.defaults().socketMem("1G"));
        IllegalStateException tooMuch = assertThrows(IllegalStateException.class,
            () -> Eal.Args.defaults().socketMem("2048,0").plan(machine(256, 256, DEV_HUGEPAGES)));
        assertTrue(tooMuch.getMessage().contains("only 512 MiB of hugepages free and mounted, 2048 MiB needed"),
            tooMuch.getMessage());
    }

    @Test
    void mountsAreReadWithTheirPageSizesAndEscapes() throws IOException {
        Hugepages m = machine(8, 4, "hugetlbfs /dev/hugepages hugetlbfs rw,relatime 0 0",
            "nodev /mnt/huge\\040pages hugetlbfs rw,pagesize=1024M 0 0", "tmpfs /tmp tmpfs rw 0 0");
        assertEquals(List.of(new Hugepages.Mount(Path.of("/dev/hugepages"), 2L << 20),
            new Hugepages.Mount(Path.of("/mnt/huge pages"), 1L << 30)), m.mounts());
        assertEquals(new Hugepages.PageSize(2L << 20, 8, 4), m.size(2L << 20));
        assertNull(m.size(4096));
        assertEquals(8L << 20, m.usableBytes(null));
        assertEquals(2048L << 10, Hugepages.parseSize("2048k"));
        assertEquals(1L << 30, Hugepages.parseSize("1G"));
    }

    // -------------------------------------------------------------- what the user cannot use or already gave

    @Test
    void aMountThisUserCannotWriteToIsNotUsable() throws IOException {
        unwritable.add(Path.of("/dev/hugepages")); // root's, and we are not root
        Hugepages m = machine(512, 512, DEV_HUGEPAGES);
        assertEquals(0, m.usableBytes(null));
        Eal.Plan plan = Eal.Args.defaults().plan(m);
        assertFalse(plan.hugepages(), "AUTO does not pick pages EAL could not make files for");
        assertTrue(plan.argv().contains("--no-huge"));
        assertTrue(plan.memory().contains("no hugetlbfs writable by this user (mounts: /dev/hugepages (2 MiB, "
            + "not writable))"), plan.memory());
        IllegalStateException forced = assertThrows(IllegalStateException.class,
            () -> Eal.Args.defaults().memory(Eal.Args.Memory.HUGEPAGES).plan(m));
        assertTrue(forced.getMessage().contains("not writable"), forced.getMessage());
        Eal.Plan named = Eal.Args.defaults().hugeDir(Path.of("/dev/hugepages")).plan(m);
        assertFalse(named.hugepages());
        assertTrue(named.memory().contains("the hugetlbfs at /dev/hugepages is not writable by this user"),
            named.memory());
    }

    @Test
    void probingAsksTheFileSystemWhetherAMountIsWritable() throws IOException {
        Path mine = Files.createDirectories(root.resolve("huge"));
        machine(8, 8); // the sysfs and meminfo files
        Path mounts = Files.writeString(root.resolve("mounts"), "nodev /nonexistent/huge hugetlbfs rw,pagesize=2M 0 0\n"
            + "nodev " + mine + " hugetlbfs rw,pagesize=2M 0 0\n");
        Hugepages m = Hugepages.read(root.resolve("sys"), mounts, root.resolve("meminfo"));
        assertEquals(List.of(new Hugepages.Mount(Path.of("/nonexistent/huge"), 2L << 20, false),
            new Hugepages.Mount(mine, 2L << 20, true)), m.mounts());
        assertEquals(mine, m.hugeDirFor());
    }

    @Test
    void aWritableMountBehindAnUnwritableFirstOneIsNamedWithHugeDir() throws IOException {
        // EAL takes the first mount of a size; ours comes second, so EAL must be told.
        unwritable.add(Path.of("/dev/hugepages"));
        Hugepages m = machine(512, 512, DEV_HUGEPAGES, "nodev /home/me/huge hugetlbfs rw,pagesize=2M 0 0");
        assertEquals(Path.of("/home/me/huge"), m.hugeDirFor());
        assertEquals(1024L << 20, m.usableBytes(null));
        Eal.Plan plan = Eal.Args.defaults().plan(m);
        assertTrue(plan.hugepages(), plan.memory());
        assertTrue(plan.argv().contains("--huge-dir=/home/me/huge"), plan.argv()::toString);
        assertTrue(plan.memory().contains("at /home/me/huge"), plan.memory());
        // Both writable: EAL's own pick is fine, nothing added.
        unwritable.clear();
        Eal.Plan mine = Eal.Args.defaults().plan(machine(512, 512, DEV_HUGEPAGES,
            "nodev /home/me/huge hugetlbfs rw,pagesize=2M 0 0"));
        assertTrue(mine.hugepages());
        assertFalse(mine.argv().stream().anyMatch(a -> a.startsWith("--huge-dir")), mine.argv()::toString);
    }

    @Test
    void theUsersOwnMemoryOptionIsWhatHugepagesMustCover() throws IOException {
        Hugepages m = machine(512, 512, DEV_HUGEPAGES); // 1 GiB free
        for (List<String> extra : List.of(List.of("-m", "2048"), List.of("-m2048"), List.of("--socket-mem=2048,0"),
            List.of("--socket-mem", "1024,1024"))) {
            Eal.Args args = Eal.Args.defaults();
            extra.forEach(args::add);
            Eal.Plan plan = extra.get(0).startsWith("-m") ? args.plan(m) : null;
            if (plan != null) {
                assertFalse(plan.hugepages(), extra + ": 2048 MiB asked, 1024 free: " + plan.memory());
                assertTrue(plan.memory().contains("only 1024 MiB of hugepages free and mounted, 2048 MiB needed"),
                    plan.memory());
                assertTrue(plan.memory().startsWith("no hugepages (--no-huge, 2048 MiB"), plan.memory());
                assertEquals(1, plan.argv().stream().filter(a -> a.startsWith("-m")).count(), "the user's -m only");
            } else {
                // --socket-mem cannot run on --no-huge (EAL refuses the pair): say so before EAL starts.
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> args.plan(m),
                    extra::toString);
                assertTrue(e.getMessage().contains("needs hugepages") && e.getMessage().contains("2048 MiB needed"),
                    e.getMessage());
            }
        }
        Eal.Plan fits = Eal.Args.defaults().add("-m").add("256").plan(m);
        assertTrue(fits.hugepages());
        assertEquals("hugepages 256 MiB (free 2 MiB x 512 free of 512, 1 GiB x 0 free of 0)", fits.memory());
        assertEquals(1, fits.argv().stream().filter("-m"::equals).count());
        // Less than our default 512 asked by the user: hugepages although 512 MiB would not fit.
        assertTrue(Eal.Args.defaults().add("-m").add("128").plan(machine(256, 100, DEV_HUGEPAGES)).hugepages());
        Eal.Plan socket = Eal.Args.defaults().add("--socket-mem=256,0").plan(m);
        assertTrue(socket.hugepages());
        assertTrue(socket.memory().startsWith("hugepages --socket-mem 256,0"), socket.memory());
        assertFalse(socket.argv().contains("-m"));
    }

    @Test
    void theUsersSocketMemoryIsNeverPutNextToNoHuge() throws IOException {
        Hugepages none = machine(0, 0);
        IllegalStateException e = assertThrows(IllegalStateException.class,
            () -> Eal.Args.defaults().add("--socket-mem=256,0").plan(none));
        assertTrue(e.getMessage().startsWith("socket memory (256,0) needs hugepages"), e.getMessage());
        assertThrows(IllegalStateException.class,
            () -> Eal.Args.defaults().memory(Eal.Args.Memory.NO_HUGE).add("--socket-mem").add("256").plan(none));
        // The user's -m wins over our socketMem(): no socket memory in the vector, so --no-huge is fine.
        Eal.Plan plan = Eal.Args.defaults().socketMem("256,0").add("-m").add("256").plan(none);
        assertFalse(plan.hugepages());
        assertFalse(plan.argv().stream().anyMatch(a -> a.startsWith("--socket-mem")), plan.argv()::toString);
    }

    @Test
    void theUsersOwnLcoreOptionWinsOverLcores() throws IOException {
        for (List<String> extra : List.of(List.of("-l", "2"), List.of("-l2"), List.of("-c", "0x4"),
            List.of("--lcores=0@2"), List.of("--lcores", "0@2"))) {
            Eal.Args args = Eal.Args.defaults().lcores("0@1");
            extra.forEach(args::add);
            List<String> argv = args.plan(machine(0, 0)).argv();
            assertFalse(argv.contains("--lcores=0@1"), extra + ": " + argv);
            assertEquals(extra, argv.subList(argv.size() - extra.size(), argv.size()), "the user's, as given");
            assertEquals(1, argv.stream().filter(a -> a.startsWith("--lcores") || a.startsWith("-l")
                || a.startsWith("-c")).count(), argv::toString);
        }
    }
}
