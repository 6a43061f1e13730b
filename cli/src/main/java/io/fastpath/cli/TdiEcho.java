package io.fastpath.cli;

import java.util.List;

/** {@code fastpath echo --api tdi}. */
final class TdiEcho {
    private TdiEcho() {
    }

    static int run(List<String> args) {
        throw new UsageException("echo --api tdi: not built yet");
    }
}
