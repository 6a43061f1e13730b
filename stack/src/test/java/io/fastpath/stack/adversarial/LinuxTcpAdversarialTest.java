package io.fastpath.stack.adversarial;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The adversarial TCP suite against Linux (the kernel this runs on, its defaults, in a namespace): the
 * reference for each RFC clause; where Linux's default differs from the RFC's recommendation the test says so
 * (docs/adversarial.md has the table).
 */
class LinuxTcpAdversarialTest extends TcpAdversarialSuite {
    @Override
    Testbench rig(Path dir) throws Exception {
        Testbench tb = Testbench.linux(dir);
        // Fast Open as a server too (fastpath's default): cookies handed out, data with a valid cookie taken.
        tb.posix.sysctl("net.ipv4.tcp_fastopen", "3");
        return tb;
    }

    /**
     * Linux's default (net.ipv4.tcp_rfc1337 = 0) lets a RST end TIME-WAIT, as RFC 9293 §3.10.7.4 allows; with
     * tcp_rfc1337 = 1 Linux follows RFC 1337's fix, which fastpath always does. The reference is that setting.
     */
    @Override
    @Test
    void rstInTimeWaitIsIgnored_rfc1337_s3() {
        tb.posix.sysctl("net.ipv4.tcp_rfc1337", "1");
        try {
            super.rstInTimeWaitIsIgnored_rfc1337_s3();
        } finally {
            tb.posix.sysctl("net.ipv4.tcp_rfc1337", "0");
        }
    }
}
