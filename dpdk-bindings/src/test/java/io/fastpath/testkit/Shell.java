package io.fastpath.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs Linux commands for tests (ip, ping, python3) and returns what they printed. */
public final class Shell {
    private Shell() {
    }

    /** The outcome of a command. */
    public record Result(int exitCode, String output) {
        public boolean ok() {
            return exitCode == 0;
        }
    }

    /** Runs a command (stdout and stderr merged), waiting at most {@code timeoutSeconds}. */
    public static Result exec(long timeoutSeconds, String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getOutputStream().close();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor();
                return new Result(-1, new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
                    + "\n(timed out after " + timeoutSeconds + " s)");
            }
            return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new Result(-1, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, e.toString());
        }
    }

    /** Runs a command and fails with its output unless it exits 0. */
    public static String run(String... command) {
        Result r = exec(60, command);
        if (!r.ok()) {
            throw new IllegalStateException(String.join(" ", command) + " exited " + r.exitCode() + ": " + r.output());
        }
        return r.output();
    }

    /** Runs a command, ignoring failure (clean-up paths). */
    public static void quietly(String... command) {
        exec(30, command);
    }

    /** Whether an executable is on the PATH. */
    public static boolean has(String executable) {
        return exec(10, "sh", "-c", "command -v " + executable).ok();
    }

    /** A command line with a prefix: {@code ip netns exec NS ...}. */
    public static String[] prefixed(String[] prefix, String... command) {
        List<String> all = new ArrayList<>(Arrays.asList(prefix));
        all.addAll(Arrays.asList(command));
        return all.toArray(String[]::new);
    }
}
