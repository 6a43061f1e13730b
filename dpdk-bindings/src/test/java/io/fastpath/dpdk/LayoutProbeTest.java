package io.fastpath.dpdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.testkit.Shell;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every offset and size in {@link Layouts} equals what gcc computes from the installed DPDK headers. */
class LayoutProbeTest {
    @TempDir
    Path dir;

    @Test
    void layoutsMatchInstalledHeaders() throws IOException, IllegalAccessException {
        Path source = dir.resolve("layout-probe.c");
        try (InputStream in = LayoutProbeTest.class.getResourceAsStream("/layout-probe.c")) {
            Files.write(source, in.readAllBytes());
        }
        String cflags = Shell.run("pkg-config", "--cflags", "libdpdk").trim();
        Path binary = dir.resolve("probe");
        Shell.run("sh", "-c", "gcc " + cflags + " -o " + binary + " " + source);
        Map<String, Long> probed = new HashMap<>();
        for (String line : Shell.run(binary.toString()).split("\n")) {
            String[] kv = line.split("=");
            probed.put(kv[0], Long.parseUnsignedLong(kv[1].trim()));
        }
        Map<String, Long> java = new HashMap<>();
        for (Field f : Layouts.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == long.class) {
                java.put(f.getName(), f.getLong(null));
            }
        }
        assertEquals(new TreeSet<>(probed.keySet()), new TreeSet<>(java.keySet()), "same names probed and declared");
        for (Map.Entry<String, Long> e : probed.entrySet()) {
            assertEquals(e.getValue(), java.get(e.getKey()), e.getKey());
        }
        assertTrue(probed.size() > 50);
    }
}
