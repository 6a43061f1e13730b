package io.fastpath.cli;

import java.util.List;

/** {@code fastpath echo --api wsk}. */
final class WskEcho {
    private WskEcho() {
    }

    static int run(List<String> args) {
        throw new UsageException("echo --api wsk: not built yet");
    }
}
