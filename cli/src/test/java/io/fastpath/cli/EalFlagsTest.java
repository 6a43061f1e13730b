package io.fastpath.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.dpdk.Eal;
import io.fastpath.dpdk.Hugepages;
import io.fastpath.testkit.NetNs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The EAL flags every port command takes, down to the argument vector EAL gets (docs/operations.md). */
class EalFlagsTest {
    @TempDir
    Path root;

    private Hugepages machine(long free, boolean mounted) throws Exception {
        Path pool = Files.createDirectories(root.resolve("sys/hugepages-2048kB"));
        Files.writeString(pool.resolve("nr_hugepages"), free + "\n");
        Files.writeString(pool.resolve("free_hugepages"), free + "\n");
        Path mounts = root.resolve("mounts");
        Files.writeString(mounts, mounted ? "nodev /mnt/huge hugetlbfs rw,pagesize=2M 0 0\n" : "");
        Path meminfo = root.resolve("meminfo");
        Files.writeString(meminfo, "Hugepagesize:       2048 kB\n");
        return Hugepages.read(root.resolve("sys"), mounts, meminfo, dir -> true); // /mnt/huge: a writable mount
    }

    private static Eal.Plan plan(Hugepages machine, String... args) {
        List<String> all = new java.util.ArrayList<>(List.of("--vdev", "net_tap0", "--ip", "10.0.0.2/24"));
        all.addAll(List.of(args));
        return PortOptions.ealArgs(new Flags(all, PortOptions.WITH_VALUE, PortOptions.SWITCHES)).plan(machine);
    }

    @Test
    void defaultsAreTodaysVirtualPortArgumentsWhenTheMachineHasNoHugepages() throws Exception {
        Eal.Plan p = plan(machine(0, false));
        assertFalse(p.hugepages());
        assertEquals(List.of("fastpath", "--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--no-telemetry"),
            p.argv().subList(0, 7));
        assertTrue(plan(machine(512, true)).hugepages(), "hugepages when there are");
    }

    @Test
    void everyEalFlagReachesTheArgumentVector() throws Exception {
        Eal.Plan p = plan(machine(512, true), "--pci", "0000:03:00.0", "--pci=0000:03:00.1", "--lcores", "0@1",
            "--socket-mem", "512", "--huge", "--huge-dir", "/mnt/huge", "--eal", "--log-level=pmd.net.mlx5:8");
        assertTrue(p.hugepages());
        List<String> argv = p.argv();
        int a = argv.indexOf("-a");
        assertEquals(List.of("-a", "0000:03:00.0", "-a", "0000:03:00.1"), argv.subList(a, a + 4));
        assertFalse(argv.contains("--no-pci"));
        assertTrue(argv.contains("--lcores=0@1"));
        assertTrue(argv.contains("--socket-mem=512"));
        assertTrue(argv.contains("--huge-dir=/mnt/huge"));
        assertEquals("--log-level=pmd.net.mlx5:8", argv.get(argv.size() - 1));
        Eal.Plan forcedOff = plan(machine(512, true), "--no-huge");
        assertFalse(forcedOff.hugepages());
        assertTrue(forcedOff.memory().endsWith("as asked)"), forcedOff.memory());
    }

    @Test
    void anEalOptionInEalWinsOverTheFlagForTheSameThing() throws Exception {
        List<String> argv = plan(machine(0, false), "--lcores", "0@1", "--eal", "-l 2").argv();
        assertFalse(argv.contains("--lcores=0@1"), argv::toString);
        assertEquals(List.of("-l", "2"), argv.subList(argv.size() - 2, argv.size()));
        Eal.Plan m = plan(machine(512, true), "--eal", "-m 2048"); // 1 GiB free: the user's 2 GiB do not fit
        assertFalse(m.hugepages(), m.memory());
        assertTrue(m.memory().contains("2048 MiB needed"), m.memory());
    }

    @Test
    void contradictionsAndBadValuesAreUsageErrors() throws Exception {
        Hugepages m = machine(0, false);
        assertThrows(UsageException.class, () -> plan(m, "--huge", "--no-huge"));
        assertThrows(UsageException.class, () -> plan(m, "--socket-mem", "1G"));
        assertThrows(UsageException.class, () -> plan(m, "--lcores", " "));
        assertThrows(UsageException.class, () -> plan(m, "--huge=yes"), "a switch takes no value");
        UsageException e = assertThrows(UsageException.class,
            () -> Main.run(new String[] {"up", "--ip", "10.0.0.2/24"}));
        assertEquals("missing --vdev (or --pci for a NIC)", e.getMessage());
        IllegalStateException none = assertThrows(IllegalStateException.class, () -> plan(m, "--huge"));
        assertTrue(none.getMessage().startsWith("hugepages asked for, but no free hugepages"), none.getMessage());
    }

    @Test
    void aPciDeviceEalDidNotProbeIsOneClearLineAndExitOne() throws Exception {
        // No NIC here may be taken from the kernel (the only one is the machine's own): an absent address
        // goes through the whole path: -a to EAL, PCI bus scan, port lookup by name.
        Process p = CommandLineTest.launch("up", "--pci", "0000:00:1f.7", "--ip", "10.96.0.2/24", "--name",
            NetNs.uniqueName("s"), "--no-huge");
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertNotEquals(0, p.exitValue(), out);
        assertTrue(out.contains("fastpath: rte_eth_dev_get_port_by_name 0000:00:1f.7 (EAL probed no such port: is "
            + "the device allowed (--pci), bound to vfio-pci, and has it a PMD?) failed: No such device"), out);
    }
}
