package io.fastpath.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The modules export what docs/architecture.md ("Public surface") says they export, no more and no less: the
 * table there is the contract, and this test reads the compiled module-info of every fastpath module on the test
 * class path (tests run on the class path, so the descriptors are read as files, not resolved).
 */
class ModuleSurfaceTest {
    private static final Pattern ROW = Pattern.compile("^\\| `(io\\.fastpath\\.[a-z.]+)` \\([a-z-]+\\) \\| (.*) \\|$");
    private static final Pattern NAME = Pattern.compile("`([a-z.]+)`");
    /** The modules this module's tests see (cli is not a dependency of examples; its row is checked if built). */
    private static final Set<String> REQUIRED = Set.of("io.fastpath.dpdk", "io.fastpath.stack", "io.fastpath.provider",
        "io.fastpath.wsk", "io.fastpath.tdi", "io.fastpath.ndk", "io.fastpath.examples");

    private static TreeMap<String, Set<String>> documented() throws IOException {
        TreeMap<String, Set<String>> rows = new TreeMap<>();
        boolean inSection = false;
        for (String line : Files.readAllLines(Path.of("..", "docs", "architecture.md"))) {
            if (line.startsWith("## ")) {
                inSection = line.equals("## Public surface");
                continue;
            }
            Matcher m = ROW.matcher(line);
            if (inSection && m.matches()) {
                Set<String> packages = new TreeSet<>();
                Matcher n = NAME.matcher(m.group(2));
                while (n.find()) {
                    packages.add(n.group(1));
                }
                rows.put(m.group(1), packages);
            }
        }
        return rows;
    }

    private static TreeMap<String, Set<String>> compiled() throws IOException {
        TreeMap<String, Set<String>> modules = new TreeMap<>();
        Enumeration<URL> all = ClassLoader.getSystemClassLoader().getResources("module-info.class");
        while (all.hasMoreElements()) {
            try (InputStream in = all.nextElement().openStream()) {
                ModuleDescriptor d = ModuleDescriptor.read(in);
                if (!d.name().startsWith("io.fastpath.")) {
                    continue; // JUnit's own modules
                }
                Set<String> exports = new TreeSet<>();
                for (ModuleDescriptor.Exports e : d.exports()) {
                    exports.add(e.isQualified() ? e.source() + " to " + e.targets() : e.source());
                }
                modules.put(d.name(), exports);
            }
        }
        Path cli = Path.of("..", "cli", "target", "classes", "module-info.class");
        if (Files.exists(cli)) {
            try (InputStream in = Files.newInputStream(cli)) {
                ModuleDescriptor d = ModuleDescriptor.read(in);
                Set<String> exports = new TreeSet<>();
                d.exports().forEach(e -> exports.add(e.source()));
                modules.put(d.name(), exports);
            }
        }
        return modules;
    }

    @Test
    void everyModuleExportsExactlyWhatTheArchitectureDocSays() throws IOException {
        TreeMap<String, Set<String>> docs = documented();
        TreeMap<String, Set<String>> built = compiled();
        assertTrue(built.keySet().containsAll(REQUIRED), "module-info.class of every fastpath module on the class"
            + " path: " + built.keySet());
        assertTrue(docs.keySet().containsAll(REQUIRED), "a Public surface row for every module: " + docs.keySet());
        for (var e : built.entrySet()) {
            assertEquals(docs.get(e.getKey()), e.getValue(), "exports of " + e.getKey()
                + " (docs/architecture.md, Public surface)");
        }
    }

    @Test
    void internalPackagesStayInternal() throws IOException {
        TreeMap<String, Set<String>> built = compiled();
        assertTrue(!built.get("io.fastpath.stack").contains("io.fastpath.stack.tcp.protocol"),
            "TcpService's ring flyweights are not API");
        for (String api : new String[] {"io.fastpath.provider", "io.fastpath.wsk", "io.fastpath.tdi", "io.fastpath.ndk"}) {
            assertEquals(1, built.get(api).size(), api + " exports its one API package: " + built.get(api));
        }
    }
}
