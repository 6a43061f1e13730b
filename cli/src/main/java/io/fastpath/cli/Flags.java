package io.fastpath.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code --name value} and {@code --switch} flags; unknown flags are an error. */
final class Flags {
    private final Map<String, String> values = new HashMap<>();
    private final Map<String, List<String>> repeated = new HashMap<>();

    Flags(List<String> args, Set<String> withValue, Set<String> switches) {
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            String name = arg;
            String value = null;
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 0) {
                name = arg.substring(0, eq);
                value = arg.substring(eq + 1);
            }
            if (withValue.contains(name)) {
                if (value == null) {
                    if (i + 1 >= args.size()) {
                        throw new UsageException(name + " needs a value");
                    }
                    value = args.get(++i);
                }
                values.put(name, value);
                repeated.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
            } else if (switches.contains(name) && value == null) {
                values.put(name, "true");
            } else {
                throw new UsageException("unknown argument '" + arg + "'");
            }
        }
    }

    String get(String name) {
        return values.get(name);
    }

    /** Every value of a repeatable flag, in order ({@link #get} has the last). */
    List<String> all(String name) {
        return List.copyOf(repeated.getOrDefault(name, List.of()));
    }

    String required(String name) {
        String v = values.get(name);
        if (v == null) {
            throw new UsageException("missing " + name);
        }
        return v;
    }

    String get(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    int intValue(String name, int fallback) {
        String v = values.get(name);
        if (v == null) {
            return fallback;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new UsageException(name + " must be a number, got '" + v + "'");
        }
    }
}
