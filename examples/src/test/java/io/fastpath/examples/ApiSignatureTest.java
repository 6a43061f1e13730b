package io.fastpath.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.ndk.NdkAdapter;
import io.fastpath.provider.NtStatus;
import io.fastpath.tdi.TdiProvider;
import io.fastpath.wsk.WskProvider;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * No Agrona type in the public surface of api-core, api-wsk, api-tdi and api-ndk (docs/architecture.md, "Public
 * surface"): every public or protected constructor, method and field of every public class of the four API
 * packages is checked, generic signatures included. The stack below them is Agrona-shaped on purpose.
 */
class ApiSignatureTest {
    private static List<Class<?>> publicClasses(Class<?> anchor) throws IOException, URISyntaxException,
        ClassNotFoundException {
        Path root = Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI());
        String pkg = anchor.getPackageName();
        List<Class<?>> out = new ArrayList<>();
        FileSystem jar = Files.isDirectory(root) ? null : FileSystems.newFileSystem(root);
        try {
            Path dir = (jar == null ? root : jar.getPath("/")).resolve(pkg.replace('.', '/'));
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    String name = f.getFileName().toString();
                    if (!name.endsWith(".class") || name.equals("package-info.class")) {
                        continue;
                    }
                    Class<?> c = Class.forName(pkg + "." + name.substring(0, name.length() - 6), false,
                        anchor.getClassLoader());
                    if (isVisible(c)) {
                        out.add(c);
                    }
                }
            }
        } finally {
            if (jar != null) {
                jar.close();
            }
        }
        return out;
    }

    /** Public, and (if nested) inside classes that are public too. */
    private static boolean isVisible(Class<?> c) {
        for (Class<?> k = c; k != null; k = k.getDeclaringClass()) {
            if (!Modifier.isPublic(k.getModifiers()) || k.isAnonymousClass() || k.isLocalClass()) {
                return false;
            }
        }
        return true;
    }

    private static boolean exposed(Member m, Class<?> owner) {
        int mod = m.getModifiers();
        return Modifier.isPublic(mod) || Modifier.isProtected(mod) && !Modifier.isFinal(owner.getModifiers());
    }

    private static List<String> agronaIn(Class<?> c) {
        List<String> found = new ArrayList<>();
        String superTypes = c.getGenericSuperclass() + " " + Arrays.toString(c.getGenericInterfaces());
        if (superTypes.contains("org.agrona")) {
            found.add(c.getName() + " extends/implements " + superTypes);
        }
        for (Method m : c.getDeclaredMethods()) {
            if (exposed(m, c) && !m.isSynthetic() && m.toGenericString().contains("org.agrona")) {
                found.add(m.toGenericString());
            }
        }
        for (Constructor<?> k : c.getDeclaredConstructors()) {
            if (exposed(k, c) && k.toGenericString().contains("org.agrona")) {
                found.add(k.toGenericString());
            }
        }
        for (Field f : c.getDeclaredFields()) {
            if (exposed(f, c) && f.toGenericString().contains("org.agrona")) {
                found.add(f.toGenericString());
            }
        }
        return found;
    }

    @Test
    void noAgronaTypeInThePublicSignaturesOfTheApiModules() throws Exception {
        List<String> found = new ArrayList<>();
        int classes = 0;
        for (Class<?> anchor : new Class<?>[] {NtStatus.class, WskProvider.class, TdiProvider.class,
            NdkAdapter.class}) {
            List<Class<?>> all = publicClasses(anchor);
            assertTrue(all.size() > 5, "found the public classes of " + anchor.getPackageName() + ": " + all);
            classes += all.size();
            for (Class<?> c : all) {
                found.addAll(agronaIn(c));
            }
        }
        assertTrue(classes > 60, "checked " + classes + " classes");
        assertEquals(List.of(), found, "Agrona types in the API modules' public signatures");
    }

    @Test
    void theCheckSeesAgronaWhereItIs() throws Exception {
        // The stack's API is Agrona-shaped (Stack is an Agent): the same check must find it there.
        assertTrue(!agronaIn(io.fastpath.stack.Stack.class).isEmpty(), "the check finds Agrona in Stack");
    }
}
