package io.fastpath.perf;

import java.util.List;
import java.util.Map;

/**
 * The smallest JSON writer the harness needs (the perf module has no JSON library): objects, arrays,
 * strings, numbers, booleans, written in order. Commas are placed automatically. Not thread-safe.
 */
final class Json {
    private final StringBuilder out = new StringBuilder(4096);
    private boolean needComma;

    Json beginObject() {
        comma();
        out.append('{');
        needComma = false;
        return this;
    }

    Json beginObject(String name) {
        key(name);
        out.append('{');
        needComma = false;
        return this;
    }

    Json endObject() {
        out.append('}');
        needComma = true;
        return this;
    }

    Json beginArray(String name) {
        key(name);
        out.append('[');
        needComma = false;
        return this;
    }

    Json endArray() {
        out.append(']');
        needComma = true;
        return this;
    }

    /** Appends an object written by another writer as the next element of the current array. */
    Json element(Json other) {
        comma();
        out.append(other.out);
        needComma = true;
        return this;
    }

    Json field(String name, String value) {
        key(name);
        string(value);
        needComma = true;
        return this;
    }

    Json field(String name, long value) {
        key(name);
        out.append(value);
        needComma = true;
        return this;
    }

    Json field(String name, double value) {
        key(name);
        if (Double.isNaN(value) || Double.isInfinite(value)) {
            out.append("null");
        } else {
            // Three decimals, or six below 1 (bytes per round trip are small when they are not 0).
            double scale = Math.abs(value) < 1 ? 1e6 : 1e3;
            out.append(Math.round(value * scale) / scale);
        }
        needComma = true;
        return this;
    }

    Json field(String name, boolean value) {
        key(name);
        out.append(value);
        needComma = true;
        return this;
    }

    Json field(String name, List<String> values) {
        beginArray(name);
        for (String v : values) {
            comma();
            string(v);
            needComma = true;
        }
        return endArray();
    }

    Json field(String name, Map<String, Long> values) {
        beginObject(name);
        values.forEach(this::field);
        return endObject();
    }

    private void key(String name) {
        comma();
        string(name);
        out.append(':');
        needComma = false;
    }

    private void comma() {
        if (needComma) {
            out.append(',');
        }
    }

    private void string(String s) {
        if (s == null) {
            out.append("null");
            return;
        }
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    @Override
    public String toString() {
        return out.toString();
    }
}
