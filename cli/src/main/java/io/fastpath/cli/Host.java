package io.fastpath.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Linux-side commands for the demo: namespaces, veths, ping. */
final class Host {
    private Host() {
    }

    record Result(int exit, String output) {
    }

    static Result exec(long timeoutSeconds, String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getOutputStream().close();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(-1, "timed out: " + String.join(" ", command));
            }
            return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new Result(-1, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, "interrupted");
        }
    }

    static String run(String... command) {
        Result r = exec(60, command);
        if (r.exit() != 0) {
            throw new IllegalStateException(String.join(" ", command) + ": " + r.output().trim());
        }
        return r.output();
    }

    static String[] inNs(String ns, String... command) {
        List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        all.addAll(Arrays.asList(command));
        return all.toArray(String[]::new);
    }
}
