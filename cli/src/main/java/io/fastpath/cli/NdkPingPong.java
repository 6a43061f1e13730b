package io.fastpath.cli;

import java.util.List;

/** {@code fastpath ndk-pingpong}. */
final class NdkPingPong {
    private NdkPingPong() {
    }

    static int run(List<String> args) {
        throw new UsageException("ndk-pingpong: not built yet");
    }
}
