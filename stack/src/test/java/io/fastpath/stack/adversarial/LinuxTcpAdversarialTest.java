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
     * Linux's default (net.ipv4.tcp_rfc1337 = 0) lets a RST end TIME-WAIT, as RFC 9293 §3.10.7.4 allows; the
     * inherited test shows that. With tcp_rfc1337 = 1 Linux follows RFC 1337's fix.
     */
    @Test
    void rstInTimeWaitIsIgnoredWithTcpRfc1337Set_rfc1337_s3() {
        tb.posix.sysctl("net.ipv4.tcp_rfc1337", "1");
        try {
            rstInTimeWaitIsIgnored_rfc1337_s3();
        } finally {
            tb.posix.sysctl("net.ipv4.tcp_rfc1337", "0");
        }
    }

    // Tagged needs-fix for fastpath in the suite; Linux passes them, so they run here by default (an
    // overriding method does not inherit the tag).

    @Override
    @Test
    void challengeAcksAreRateLimited_rfc5961_s7() {
        super.challengeAcksAreRateLimited_rfc5961_s7();
    }

    @Override
    @Test
    void peerMss64IsHonouredOptionsIncluded_rfc6691_s2() {
        super.peerMss64IsHonouredOptionsIncluded_rfc6691_s2();
    }

    @Override
    @Test
    void fragmentationNeededLowersTheSegmentSize_rfc1191_s4() {
        super.fragmentationNeededLowersTheSegmentSize_rfc1191_s4();
    }

    @Override
    @Test
    void zeroWindowHeldWhileProbesAreAnsweredDoesNotReset_rfc1122_s4_2_2_17() {
        super.zeroWindowHeldWhileProbesAreAnsweredDoesNotReset_rfc1122_s4_2_2_17();
    }
}
