package io.fastpath.stack.tcp;

import static io.fastpath.stack.tcp.TcpEndpointRig.LISTEN_PORT;
import static io.fastpath.stack.tcp.TcpEndpointRig.LOCAL_IP;
import static io.fastpath.stack.tcp.TcpEndpointRig.MS;
import static io.fastpath.stack.tcp.TcpEndpointRig.REMOTE_IP;
import static io.fastpath.stack.tcp.TcpEndpointRig.REMOTE_PORT;
import static io.fastpath.stack.tcp.TcpEndpointRig.plainConfig;
import static io.fastpath.stack.wire.TcpSegment.ACK;
import static io.fastpath.stack.wire.TcpSegment.PSH;
import static io.fastpath.stack.wire.TcpSegment.RST;
import static io.fastpath.stack.wire.TcpSegment.SYN;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * A listener's answers, segment by segment, on a {@link TcpEndpointRig}: the half-open queue and SYN cookies
 * (RFC 4987), and Fast Open (RFC 7413) as server and as client. The ring-pair floods in {@link TcpSynFloodTest} and
 * the two-stack Fast Open exchanges in {@link TcpFastOpenTest} remain for the end-to-end view.
 */
class TcpListenerTest {
    private TcpEndpointRig r;

    @AfterEach
    void down() {
        if (r != null) {
            r.close();
        }
    }

    private static TcpConfig cookies(TcpConfig.SynCookieMode mode) {
        return plainConfig().withSynCookies(mode);
    }

    /** The SYN a Linux client sends with every option: MSS 1460, window scale 7, SACK-permitted, timestamps. */
    private Segment fullSyn(int tsVal) {
        return r.theirSyn().windowScale(7).sackPermitted(true).timestamps(tsVal, 0);
    }

    // ===================================================================================== half-open queue

    /** RFC 4987 §3.4 and §3.6: what a SYN finds when the half-open queue is full. */
    @Nested
    class HalfOpenQueue {
        @Test
        void withCookiesOffAFullQueueDropsItsOldestEntryForTheNewSyn_rfc4987_s3_4() {
            r = TcpEndpointRig.listening(plainConfig()
                .withSynFloodDefence(TcpConfig.SynCookieMode.OFF, 2, 5));
            for (int port = 1; port <= 3; port++) {
                r.sendTo(r.theirSyn(), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 40_000 + port);
                assertTrue(r.recvOne().has(SYN | ACK), "every SYN answered");
            }
            assertEquals(2, r.layer.connectionCount(), "the queue holds two");
            assertEquals(1, r.counters().tcpHalfOpenEvicted.get());
            assertEquals(0, r.counters().tcpListenDrops.get());
            // The first (oldest) entry is gone: its ACK meets the listener's no-connection rule, a RST.
            r.sendTo(r.sendTempl().ack(0).seq(r.remoteIss + 1), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 40_001);
            assertTrue(r.recvOne().has(RST));
        }

        @Test
        void withCookiesWhenFullAFullQueueAnswersWithACookieAndKeepsNoState_rfc4987_s3_6() {
            r = TcpEndpointRig.listening(plainConfig()
                .withSynFloodDefence(TcpConfig.SynCookieMode.WHEN_FULL, 2, 5));
            for (int port = 1; port <= 2; port++) {
                r.sendTo(r.theirSyn(), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 40_000 + port);
                r.recvOne();
            }
            assertEquals(0, r.counters().tcpSynCookiesSent.get());
            r.send(r.theirSyn());
            Segment cookie = r.learnSynAck();
            assertEquals(r.ourSynAck(), cookie, "the cookie SYN-ACK: MSS only (no timestamps to carry the rest)");
            assertEquals(1, r.counters().tcpSynCookiesSent.get());
            assertEquals(2, r.layer.connectionCount(), "no state for the cookie");
            r.send(r.sendTempl());
            r.recvNothing();
            assertEquals(List.of("accept"), r.app.events, "the cookie's ACK makes the connection");
            assertEquals(1, r.counters().tcpSynCookiesValidated.get());
        }
    }

    // ======================================================================================== SYN cookies

    /** RFC 4987 §3.6 as Linux encodes it (docs/tcp.md, SYN flood defence). */
    @Nested
    class SynCookies {
        @Test
        void cookieSynAckCarriesMssWindowScaleSackAndTimestampsThroughTsval_rfc4987_s3_6_rfc7323_s2() {
            r = TcpEndpointRig.listening(cookies(TcpConfig.SynCookieMode.ALWAYS)
                .withOptions(true, true, true));
            r.send(fullSyn(900));
            Segment synAck = r.learnSynAck();
            assertEquals(0, r.layer.connectionCount(), "no state for a cookie SYN");
            assertEquals(1460, synAck.mss());
            assertTrue(synAck.windowScale() >= 0 && synAck.sackPermitted() && synAck.timestamps(), synAck.toString());
            assertEquals(900, synAck.tsEcr());
            assertEquals(7 | SynCookie.TS_SACK, synAck.tsVal() & 0x3F, "the peer's window scale and SACK in TSval");
            r.send(r.sendTempl().timestamps(901, synAck.tsVal()));
            r.recvNothing();
            TcpConnection c = r.connection();
            assertEquals(TcpState.ESTABLISHED, c.state());
            assertEquals(7, c.sndScale, "window scale from the cookie");
            assertEquals(synAck.windowScale(), c.rcvScale, "ours as offered");
            assertTrue(c.sackOk && c.tsOk);
            assertEquals(1460 - 12, c.mss(), "MSS 1460 from the cookie's table, less the timestamp option");
            // The windows are scaled both ways: the peer's 65535 << 7 is its send window for our data.
            r.write("scaled");
            Segment data = r.recvOne();
            assertEquals("scaled", new String(data.payload(), java.nio.charset.StandardCharsets.ISO_8859_1));
        }

        @Test
        void cookieWithoutTimestampsOffersNeitherWindowScaleNorSack_rfc4987_s3_6() {
            r = TcpEndpointRig.listening(cookies(TcpConfig.SynCookieMode.ALWAYS).withOptions(true, true, true));
            r.send(r.theirSyn().windowScale(7).sackPermitted(true));
            Segment synAck = r.learnSynAck();
            assertEquals(r.ourSynAck(), synAck, "MSS only");
            r.send(r.sendTempl());
            TcpConnection c = r.connection();
            assertFalse(c.tsOk || c.sackOk);
            assertEquals(0, c.rcvScale);
            assertTrue(c.sndScale <= 0, "the peer's window is not scaled: " + c.sndScale);
            assertEquals(1460, c.mss());
        }

        @Test
        void cookieMssIsTheLargestTableValueNotAboveThePeers_rfc4987_s3_6() {
            r = TcpEndpointRig.listening(cookies(TcpConfig.SynCookieMode.ALWAYS));
            r.send(r.theirSyn().mss(1400));
            r.learnSynAck();
            r.send(r.sendTempl());
            assertEquals(1300, r.connection().mss(), "Linux's msstab: 536, 1300, 1440, 1460");
        }

        @Test
        void forgedCookieAcksAreRefusedWithReset_rfc9293_s3_10_7_2_rfc4987_s3_6() {
            r = TcpEndpointRig.listening(cookies(TcpConfig.SynCookieMode.ALWAYS));
            r.send(r.theirSyn()); // cookies were sent recently: ACKs are checked
            r.recvOne();
            SplittableRandom random = new SplittableRandom(7);
            for (int i = 0; i < 200; i++) {
                int ack = random.nextInt();
                r.sendTo(Segment.of(ACK).seq(random.nextInt()).ack(ack).window(1000).payload("guess"), LOCAL_IP,
                    LISTEN_PORT, REMOTE_IP, 30_000 + i);
                r.recv(Segment.of(RST).seq(ack));
            }
            assertEquals(200, r.counters().tcpSynCookiesFailed.get());
            assertEquals(0, r.counters().tcpSynCookiesValidated.get());
            assertEquals(List.of(), r.app.events);
            assertEquals(0, r.layer.connectionCount());
        }

        @Test
        void cookieIsGoodForOnePeriodMoreThenStale_rfc4987_s3_6() {
            r = TcpEndpointRig.listening(cookies(TcpConfig.SynCookieMode.ALWAYS));
            r.step(SynCookie.PERIOD_NS - (r.now % SynCookie.PERIOD_NS) + MS); // at the start of a period
            r.send(r.theirSyn());
            Segment first = r.recvOne();
            r.sendTo(r.theirSyn().seq(20_000), LOCAL_IP, LISTEN_PORT, REMOTE_IP, REMOTE_PORT + 1);
            Segment second = r.recvOne();
            r.step(SynCookie.PERIOD_NS);
            r.send(Segment.of(ACK).seq(r.remoteIss + 1).ack(first.seq() + 1).window(1000));
            r.recvNothing();
            assertEquals(List.of("accept"), r.app.events, "one period later: still good (MAX_SYNCOOKIE_AGE 2)");
            r.step(SynCookie.PERIOD_NS);
            r.sendTo(Segment.of(ACK).seq(20_001).ack(second.seq() + 1).window(1000), LOCAL_IP, LISTEN_PORT,
                REMOTE_IP, REMOTE_PORT + 1);
            r.recv(Segment.of(RST).seq(second.seq() + 1));
            assertEquals(List.of("accept"), r.app.events, "two periods later: stale");
            assertEquals(1, r.counters().tcpSynCookiesFailed.get());
        }

        @Test
        void dataOnTheCookieCompletingAckIsDeliveredAndAcked_rfc4987_s3_6_rfc9293_s3_10_7_4() {
            r = TcpEndpointRig.listening(cookies(TcpConfig.SynCookieMode.ALWAYS));
            r.send(r.theirSyn());
            r.learnSynAck();
            r.send(r.sendTempl().plus(PSH).payload("hello, cookie"));
            assertEquals("hello, cookie", r.app.text());
            r.step(50 * MS);
            r.recv(r.recvTempl().ack(r.remoteIss + 14));
        }

        @Test
        void ackToAListenerThatSentNoCookiesIsResetWithoutAcheck_rfc9293_s3_10_7_2() {
            r = TcpEndpointRig.listening(cookies(TcpConfig.SynCookieMode.WHEN_FULL));
            r.send(Segment.of(ACK).seq(5).ack(6).window(10));
            r.recv(Segment.of(RST).seq(6));
            assertEquals(0, r.counters().tcpSynCookiesFailed.get(), "not even checked");
        }

        @Test
        void conditionalAcceptCannotHoldACookieSynAndDecidesAtAccept_rfc4987_s3_6() {
            r = TcpEndpointRig.listening(cookies(TcpConfig.SynCookieMode.ALWAYS),
                TcpSocketOptions.withConditionalAccept(TcpSocketOptions.DEFAULTS));
            r.send(r.theirSyn());
            r.learnSynAck(); // answered at once: nothing to hold
            r.send(r.sendTempl());
            assertEquals(List.of("accept"), r.app.events);
        }
    }

    // ================================================================================ Fast Open, client

    /** RFC 7413, the client side: cookie request, cached cookie, data in the SYN, and the fallback. */
    @Nested
    class FastOpenClient {
        private final byte[] cookie = {1, 2, 3, 4, 5, 6, 7, 8};

        /** A first connection that asks for a cookie and gets {@link #cookie}; left ESTABLISHED. */
        private void firstConnection() {
            r = TcpEndpointRig.listening(plainConfig().withFastOpen(true, 4));
            r.connect("hello", true);
            r.recv(r.ourSyn().fastOpen(new byte[0])); // a request: no data without a cookie (RFC 7413 §4.1.1)
            r.send(r.theirSynAck().fastOpen(cookie));
            List<Segment> out = r.recvAll();
            assertEquals(r.recvTempl().plus(PSH).payload("hello"), out.getLast(), "the data after the handshake");
            assertEquals(0, r.counters().tcpFastOpenSynDataSent.get());
            r.send(r.sendTempl().ack(r.local + 6));
            r.recvNothing();
        }

        @Test
        void firstConnectAsksForACookieAndSendsItsDataAfterTheHandshake_rfc7413_s4_1_1() {
            firstConnection();
            assertEquals(List.of("connect STATUS_SUCCESS"), r.app.events);
        }

        @Test
        void cachedCookieCarriesTheDataInTheNextSyn_rfc7413_s4_2_1() {
            firstConnection();
            r.connect("world", true);
            r.recv(r.ourSyn().fastOpen(cookie).payload("world"));
            assertEquals(1, r.counters().tcpFastOpenSynDataSent.get());
            r.send(r.theirSynAck().ack(r.local + 6)); // the server took the data
            r.recv(r.recvTempl().seq(r.local + 6));
            assertEquals(0, r.counters().tcpFastOpenFallbacks.get());
            r.step(5_000 * MS);
            r.recvNothing(); // nothing to resend
        }

        @Test
        void synDataTheServerDidNotAcknowledgeIsSentAgain_rfc7413_s4_2_2() {
            firstConnection();
            r.connect("world", true);
            r.recv(r.ourSyn().fastOpen(cookie).payload("world"));
            r.send(r.theirSynAck()); // SYN acknowledged, data not (a server without Fast Open, or a stale cookie)
            List<Segment> out = r.recvAll();
            assertEquals(r.recvTempl().plus(PSH).payload("world"), out.getLast(), "resent at once");
            assertEquals(1, r.counters().tcpFastOpenFallbacks.get());
        }

        /**
         * Review finding: a SYN with data that the port could not take (tx ring full) counted its data as sent
         * (SND.NXT past it, tcpFastOpenSynDataSent) and went only with the retransmission timer, without the data.
         * Now it goes next duty cycle, data and cookie included, and the data counts once, when it went.
         */
        @Test
        void aSynWithDataThePortCouldNotTakeGoesNextCycleWithItsData_rfc7413_s4_2_1() {
            firstConnection();
            r.packets.transmitBlocked(true);
            r.startConnect("world", true);
            r.recvNothing();
            assertEquals(0, r.counters().tcpFastOpenSynDataSent.get(), "nothing went");
            r.packets.transmitBlocked(false);
            r.layer.flush(r.now); // the next duty cycle, the clock unmoved
            r.learnSyn();
            r.recv(r.ourSyn().fastOpen(cookie).payload("world"));
            assertEquals(1, r.counters().tcpFastOpenSynDataSent.get());
            r.send(r.theirSynAck().ack(r.local + 6)); // the server took the data
            r.recv(r.recvTempl().seq(r.local + 6));
            assertEquals(0, r.counters().tcpFastOpenFallbacks.get());
            r.step(5_000 * MS);
            r.recvNothing(); // nothing to resend
        }

        /**
         * The same with the port full past the SYN's timer: the retransmitted SYN goes as soon as the port takes it,
         * without the data, which was never sent, so a SYN-ACK for the SYN alone is no Fast Open fallback (the
         * server was offered no data) and the data follows the handshake.
         */
        @Test
        void aSynWithDataNeverTakenByThePortLeavesItsDataUnsentUntilTheHandshake_rfc7413_s4_2_1() {
            firstConnection();
            r.packets.transmitBlocked(true);
            r.startConnect("world", true);
            r.step(1_100 * MS); // the SYN's timer fires (retransmitting) while the port is still full
            r.recvNothing();
            r.packets.transmitBlocked(false);
            r.layer.flush(r.now); // the next duty cycle: the blocked SYN goes, not two seconds later
            r.learnSyn();
            Segment syn = r.recvOne();
            assertTrue(syn.has(SYN) && !syn.has(ACK), "the SYN: " + syn);
            assertEquals(0, syn.payload().length, "a retransmitted SYN goes without data");
            assertEquals(0, r.counters().tcpFastOpenSynDataSent.get());
            r.send(r.theirSynAck());
            List<Segment> out = r.recvAll();
            assertEquals(r.recvTempl().plus(PSH).payload("world"), out.getLast(), "the data after the handshake");
            assertEquals(0, r.counters().tcpFastOpenFallbacks.get(), "the server was offered no data");
        }

        /** The SYN with data times out: the SYN goes again, without the data (as Linux's tcp_send_syn_data). */
        private void synWithDataTimesOut() {
            firstConnection();
            r.connect("world", true);
            r.recv(r.ourSyn().fastOpen(cookie).payload("world"));
            TcpEndpointRig.assertTimer(1000, r.waitMs(1100));
            Segment again = r.recvOne();
            assertTrue(again.has(SYN) && !again.has(ACK), "the SYN again: " + again);
            assertEquals(r.local, again.seq());
            assertEquals(0, again.payload().length, "without the data");
        }

        /**
         * The server took the SYN's data but its SYN-ACK was lost; the SYN-ACK to the retransmitted SYN acknowledges
         * the data (RFC 7413 §4.2.1: the data was sent, SND.NXT is past it). That ACK is acceptable (RFC 9293
         * §3.10.7.3: SND.UNA < SEG.ACK =< SND.NXT) and the data is not sent again.
         */
        @Test
        void synAckToARetransmittedSynMayAcknowledgeTheFirstSynsData_rfc7413_s4_2_1() {
            synWithDataTimesOut();
            r.send(r.theirSynAck().ack(r.local + 6));
            r.recv(r.recvTempl().seq(r.local + 6));
            assertEquals(TcpState.ESTABLISHED, r.state());
            assertEquals(0, r.counters().tcpFastOpenFallbacks.get());
            r.step(5_000 * MS);
            r.recvNothing(); // nothing to resend, no reset
        }

        /**
         * The SYN with data was lost (or a middlebox dropped it) and the server answers the retransmitted SYN: its
         * SYN-ACK acknowledges the SYN only, so the data goes again at once after the handshake (RFC 7413 §4.2.2;
         * Linux's tcp_rcv_fastopen_synack marks it lost and retransmits it).
         */
        @Test
        void synDataNotAcknowledgedAfterASynTimeoutIsSentAgainAfterTheHandshake_rfc7413_s4_2_2() {
            synWithDataTimesOut();
            r.send(r.theirSynAck());
            List<Segment> out = r.recvAll();
            assertEquals(r.recvTempl().plus(PSH).payload("world"), out.getLast(), "sent again at once: " + out);
            assertEquals(TcpState.ESTABLISHED, r.state());
            assertEquals(1, r.counters().tcpFastOpenFallbacks.get());
            r.send(r.sendTempl().ack(r.local + 6));
            r.step(5_000 * MS);
            r.recvNothing();
        }
    }

    // ========================================================================================= Fast Open

    /** RFC 7413, the server side. */
    @Nested
    class FastOpen {
        private TcpConfig tfo() {
            return cookies(TcpConfig.SynCookieMode.OFF).withFastOpen(true, 4);
        }

        /** Asks for a cookie on a first connection (port REMOTE_PORT + 100) and returns it. */
        private byte[] cookie() {
            r.sendTo(r.theirSyn().fastOpen(new byte[0]), LOCAL_IP, LISTEN_PORT, REMOTE_IP, REMOTE_PORT + 100);
            Segment synAck = r.recvOne();
            assertNotNull(synAck.fastOpenCookie(), "a cookie in the SYN-ACK: " + synAck);
            assertEquals(8, synAck.fastOpenCookie().length);
            return synAck.fastOpenCookie();
        }

        @Test
        void cookieRequestIsAnsweredWithACookie_rfc7413_s4_1_2() {
            r = TcpEndpointRig.listening(tfo());
            byte[] cookie = cookie();
            assertArrayEquals(cookie, cookie(), "the same client address gets the same cookie");
            assertEquals(2, r.counters().tcpFastOpenCookiesSent.get());
        }

        @Test
        void synDataWithAValidCookieReachesTheApplicationBeforeTheHandshakeCompletes_rfc7413_s4_2() {
            r = TcpEndpointRig.listening(tfo());
            byte[] cookie = cookie();
            r.send(r.theirSyn().fastOpen(cookie).payload("GET /"));
            Segment synAck = r.learnSynAck();
            assertEquals(r.ourSynAck().ack(r.remoteIss + 6), synAck, "the SYN-ACK acknowledges the data too");
            assertEquals(List.of("accept"), r.app.events);
            assertEquals("GET /", r.app.text());
            assertEquals(TcpState.SYN_RECEIVED, r.state());
            r.write("200 OK"); // the server may answer before the handshake completes (RFC 7413 §4.2)
            r.send(r.sendTempl().ack(r.local + 1).seq(r.remoteIss + 6));
            assertEquals(TcpState.ESTABLISHED, r.state());
            assertEquals(1, r.counters().tcpFastOpenSynDataAccepted.get());
        }

        /** A Fast Open SYN with "GET /" accepted; the SYN-ACK consumed; the connection in SYN-RECEIVED. */
        private void acceptedFastOpenSyn() {
            r = TcpEndpointRig.listening(tfo());
            byte[] cookie = cookie();
            r.sendTo(Segment.of(RST).seq(r.remoteIss + 1), LOCAL_IP, LISTEN_PORT, REMOTE_IP, REMOTE_PORT + 100);
            r.send(r.theirSyn().fastOpen(cookie).payload("GET /"));
            assertEquals(r.remoteIss + 6, r.learnSynAck().ack());
            assertEquals(TcpState.SYN_RECEIVED, r.state());
        }

        /** Our data segment [local + 1, + text) acknowledging the SYN and its 5 bytes of data. */
        private void assertEarlyData(Segment s, String text) {
            assertEquals(ACK | PSH, s.flags(), "data with ACK (and PSH): " + s);
            assertEquals(r.local + 1, s.seq());
            assertEquals(r.remoteIss + 6, s.ack());
            assertEquals(text, new String(s.payload(), java.nio.charset.StandardCharsets.ISO_8859_1));
        }

        @Test
        void responseToSynDataGoesOutBeforeTheHandshakeCompletes_rfc7413_s3() {
            acceptedFastOpenSyn();
            r.write("200 OK");
            assertEarlyData(r.recvOne(), "200 OK"); // one RTT to the first response: no wait for the ACK
            assertEquals(TcpState.SYN_RECEIVED, r.state());
            // The client's ACK acknowledges the SYN-ACK and the data at once.
            r.send(r.sendTempl().ack(r.local + 7).seq(r.remoteIss + 6));
            assertEquals(TcpState.ESTABLISHED, r.state());
            r.recvNothing();
            r.step(3_000 * MS);
            r.recvNothing(); // all acknowledged: no retransmission
            assertEquals(0, r.counters().tcpRetransmits.get());
            r.write("more");
            Segment next = r.recvOne();
            assertEquals(r.local + 7, next.seq(), "after the early data: " + next);
        }

        @Test
        void earlyDataStaysWithinTheInitialWindowAndWaitsForTheFinUntilEstablished_rfc7413_s3() {
            acceptedFastOpenSyn();
            r.connection().noDelay(true);
            String big = "x".repeat(20 * 1460);
            r.write(big);
            r.shutdown();
            List<Segment> sent = r.recvAll();
            // Initial window 10 segments (RFC 6928), the SYN-ACK counting as in flight (Linux counts it as one
            // packet): 9 full ones; the 1,459 bytes left of the window wait (sender SWS avoidance).
            long bytes = sent.stream().mapToLong(s -> s.payload().length).sum();
            assertEquals(9 * 1460, bytes, "the initial window less the SYN: " + sent.size() + " segments");
            assertFalse(sent.stream().anyMatch(s -> s.has(io.fastpath.stack.wire.TcpSegment.FIN)), "no FIN before ESTABLISHED");
            assertEquals(TcpState.SYN_RECEIVED, r.state());
            r.send(r.sendTempl().ack(r.local + 1 + (int) bytes).seq(r.remoteIss + 6));
            List<Segment> after = r.recvAll();
            assertEquals(r.local + 1 + (int) bytes, after.getFirst().seq(), "the rest goes after the handshake");
            assertEquals(TcpState.ESTABLISHED, r.state(), "the FIN waits for the rest");
            for (int i = 0; i < 5 && !after.getLast().has(io.fastpath.stack.wire.TcpSegment.FIN); i++) {
                Segment last = after.getLast();
                r.send(r.sendTempl().ack(last.seq() + last.payload().length).seq(r.remoteIss + 6));
                after = r.recvAll();
            }
            assertTrue(after.getLast().has(io.fastpath.stack.wire.TcpSegment.FIN), "then the FIN: " + after.getLast());
            assertEquals(r.local + 1 + big.length(), after.getLast().seq() + after.getLast().payload().length);
            assertEquals(TcpState.FIN_WAIT_1, r.state());
        }

        @Test
        void lostSynAckIsRetransmittedAloneAndTheDataAfterTheHandshake_rfc7413_s4_2_2() {
            acceptedFastOpenSyn();
            r.write("200 OK");
            assertEarlyData(r.recvOne(), "200 OK");
            // Neither reaches the client: the SYN-ACK's timer fires (initial RTO 1 s) and sends the SYN-ACK only.
            TcpEndpointRig.assertTimer(1000, r.waitMs(1100));
            Segment again = r.recvOne();
            assertTrue(again.has(SYN | ACK), "the SYN-ACK again: " + again);
            assertEquals(r.local, again.seq());
            assertEquals(r.remoteIss + 6, again.ack());
            // The client's ACK acknowledges the SYN only: the data is deemed lost and goes again at once.
            r.send(r.sendTempl().ack(r.local + 1).seq(r.remoteIss + 6));
            assertEquals(TcpState.ESTABLISHED, r.state());
            assertEarlyData(r.recvOne(), "200 OK");
            assertEquals(1, r.counters().tcpRetransmits.get());
            r.send(r.sendTempl().ack(r.local + 7).seq(r.remoteIss + 6));
            r.step(3_000 * MS);
            r.recvNothing();
        }

        /**
         * The application answers only after the first SYN-ACK timeout; the answer and the SYN-ACK are lost again.
         * The second timeout must deem that data lost too (not only data outstanding at the first), so it goes again
         * at once when the client's ACK completes the handshake without acknowledging it.
         */
        @Test
        void earlyDataFirstSentAfterASynAckTimeoutIsDeemedLostAtTheNext_rfc7413_s4_2_2() {
            acceptedFastOpenSyn();
            TcpEndpointRig.assertTimer(1000, r.waitMs(1100));
            assertTrue(r.recvOne().has(SYN | ACK), "the SYN-ACK again");
            r.write("200 OK");
            assertEarlyData(r.recvOne(), "200 OK"); // lost, as the SYN-ACK before it
            TcpEndpointRig.assertTimer(2000, r.waitMs(2100));
            Segment again = r.recvOne();
            assertTrue(again.has(SYN | ACK), "the SYN-ACK alone: " + again);
            assertEquals(0, again.payload().length);
            r.send(r.sendTempl().ack(r.local + 1).seq(r.remoteIss + 6));
            assertEquals(TcpState.ESTABLISHED, r.state());
            assertEarlyData(r.recvOne(), "200 OK");
            r.send(r.sendTempl().ack(r.local + 7).seq(r.remoteIss + 6));
            r.step(5_000 * MS);
            r.recvNothing();
        }

        @Test
        void earlyDataLostWhileTheSynAckArrivedIsRetransmittedByTheTimer_rfc6298_s5() {
            acceptedFastOpenSyn();
            r.write("200 OK");
            assertEarlyData(r.recvOne(), "200 OK"); // lost on the way
            r.send(r.sendTempl().ack(r.local + 1).seq(r.remoteIss + 6)); // the client ACKs the SYN-ACK only
            assertEquals(TcpState.ESTABLISHED, r.state());
            r.recvNothing();
            int ms = r.waitMs(1_500); // a probe or the RTO, not a stall
            assertEarlyData(r.recvOne(), "200 OK");
            assertTrue(ms < 1_100, "within the RTO: " + ms + " ms");
            r.send(r.sendTempl().ack(r.local + 7).seq(r.remoteIss + 6));
            r.step(3_000 * MS);
            r.recvNothing();
        }

        @Test
        void clientThatNeverAcksTimesOutAndTheApplicationIsTold_rfc7413_s4_2_2() {
            acceptedFastOpenSyn();
            r.write("200 OK");
            assertEarlyData(r.recvOne(), "200 OK");
            for (int i = 0; i < 10 && r.state() != TcpState.CLOSED; i++) {
                r.step(70_000 * MS);
            }
            List<Segment> sent = r.recvAll();
            assertTrue(sent.stream().allMatch(s -> s.has(SYN | ACK)), "only SYN-ACKs: " + sent);
            assertEquals(List.of("accept", "closed " + io.fastpath.stack.NtStatus.name(
                io.fastpath.stack.NtStatus.STATUS_IO_TIMEOUT)), r.app.events);
            assertEquals(0, r.layer.connectionCount(), "nothing left");
            // The Fast Open pending slot comes back a minute after the close (Linux's rskq_rst_head): then four more
            // accepted SYNs (fastOpenMaxPending 4).
            r.step(61_000 * MS);
            r.recvAll();
            byte[] cookie = cookie();
            for (int p = 0; p < 4; p++) {
                r.sendTo(r.theirSyn().fastOpen(cookie).payload("GET /"), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 42_000 + p);
                assertEquals(r.remoteIss + 6, r.recvOne().ack());
            }
        }

        @Test
        void resetInSynReceivedClosesTheEarlyAcceptedConnection_rfc9293_s3_10_7_4() {
            acceptedFastOpenSyn();
            r.write("200 OK");
            r.recvAll();
            r.send(Segment.of(RST).seq(r.remoteIss + 6));
            assertEquals(List.of("accept", "closed " + io.fastpath.stack.NtStatus.name(
                io.fastpath.stack.NtStatus.STATUS_CONNECTION_RESET)), r.app.events);
            assertEquals(0, r.layer.connectionCount());
        }

        @Test
        void ordinarySynReceivedSendsNoDataBeforeTheAck_rfc9293_s3_10_4() {
            r = TcpEndpointRig.listening(tfo(), TcpSocketOptions.withConditionalAccept(TcpSocketOptions.DEFAULTS));
            r.send(r.theirSyn());
            TcpConnection held = r.app.requests.getFirst();
            assertTrue(r.layer.acceptRequest(held));
            r.learnSynAck();
            org.agrona.concurrent.UnsafeBuffer b = new org.agrona.concurrent.UnsafeBuffer(new byte[6]);
            assertEquals(6, held.send(b, 0, 6), "queued");
            r.layer.flush(r.now);
            r.recvNothing(); // no Fast Open data accepted: nothing but the SYN-ACK before the peer's ACK
            r.send(r.sendTempl());
            assertEquals(TcpState.ESTABLISHED, held.state());
            assertEquals(6, r.recvOne().payload().length, "sent once established");
        }

        /** A listener (tfo()) and a cookie for REMOTE_IP, the cookie request's half-open connection reset. */
        private byte[] listeningWithCookie() {
            r = TcpEndpointRig.listening(tfo());
            byte[] cookie = cookie();
            r.sendTo(Segment.of(RST).seq(r.remoteIss + 1), LOCAL_IP, LISTEN_PORT, REMOTE_IP, REMOTE_PORT + 100);
            assertEquals(0, r.layer.connectionCount());
            return cookie;
        }

        /**
         * A Fast Open SYN is offered to onAccept before any SYN-ACK: the client is in SYN-SENT, where a RST counts
         * only with an acceptable ACK (RFC 9293 §3.10.7.3). The refusal answers the SYN as §3.10.7.1 says:
         * {@code <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>}, SEG.LEN counting the SYN and its data.
         */
        @Test
        void fastOpenSynRefusedByOnAcceptIsResetWithAnAcceptableAck_rfc9293_s3_10_7_1() {
            byte[] cookie = listeningWithCookie();
            r.app.accepting = false;
            r.send(r.theirSyn().fastOpen(cookie).payload("GET /"));
            r.recv(Segment.of(RST | ACK).seq(0).ack(r.remoteIss + 6));
            assertEquals(List.of("accept"), r.app.events);
            assertEquals("", r.app.text(), "nothing delivered");
            assertEquals(0, r.layer.connectionCount());
        }

        /**
         * An application that aborts the connection inside onAccept (and returns a handler all the same): the SYN's
         * data must not be queued on the closed slot, and the one RST (the abort's) acknowledges the SYN, so that
         * the client in SYN-SENT takes it (RFC 9293 §3.10.7.3).
         */
        @Test
        void fastOpenSynAbortedInsideOnAcceptLeavesNoBufferOnTheClosedSlot_rfc7413_s4_2() {
            byte[] cookie = listeningWithCookie();
            int framesBefore = r.packets.inUse();
            r.app.abortInAccept = true;
            r.send(r.theirSyn().fastOpen(cookie).payload("GET /"));
            Segment reset = r.recvOne();
            assertEquals(RST | ACK, reset.flags(), "the abort's RST: " + reset);
            assertEquals(r.remoteIss + 1, reset.ack());
            assertEquals(List.of("accept"), r.app.events);
            assertEquals("", r.app.text(), "nothing delivered on the aborted connection");
            assertEquals(0, r.layer.connectionCount());
            assertEquals(framesBefore, r.packets.inUse(), "the SYN's buffer is back");
            assertEquals(0, r.layer.memoryHeldMbufs(), "and charged to nobody");
            // The slot serves the next connection with nothing of the old one in it.
            r.app.abortInAccept = false;
            r.sendTo(r.theirSyn().fastOpen(cookie).payload("next"), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 41_000);
            assertEquals(r.remoteIss + 5, r.recvOne().ack());
            assertEquals("next", r.app.text());
        }

        @Test
        void synDataWithABadCookieIsNotAcknowledgedAndAFreshCookieIsIssued_rfc7413_s4_1_2() {
            r = TcpEndpointRig.listening(tfo());
            byte[] cookie = cookie();
            cookie[0] ^= 1;
            r.send(r.theirSyn().fastOpen(cookie).payload("GET /"));
            Segment synAck = r.learnSynAck();
            assertEquals(r.remoteIss + 1, synAck.ack(), "only the SYN acknowledged");
            assertNotNull(synAck.fastOpenCookie());
            cookie[0] ^= 1;
            assertArrayEquals(cookie, synAck.fastOpenCookie());
            assertEquals(List.of(), r.app.events, "nothing delivered early");
            assertEquals(0, r.counters().tcpFastOpenSynDataAccepted.get());
        }

        @Test
        void cookieOfThePreviousKeyIsValidOfTheOneBeforeNot_rfc7413_s4_1_2() {
            r = TcpEndpointRig.listening(tfo());
            byte[] cookie = cookie();
            r.layer.rotateFastOpenKey();
            r.sendTo(r.theirSyn().fastOpen(cookie).payload("one"), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 41_001);
            Segment synAck = r.recvOne();
            assertEquals(r.remoteIss + 4, synAck.ack(), "one key old: still good");
            assertEquals(null, synAck.fastOpenCookie(), "no new cookie for a valid one");
            r.layer.rotateFastOpenKey();
            r.sendTo(r.theirSyn().fastOpen(cookie).payload("two"), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 41_002);
            synAck = r.recvOne();
            assertEquals(r.remoteIss + 1, synAck.ack(), "two keys old: the data is not taken");
            assertNotNull(synAck.fastOpenCookie(), "and a fresh cookie is issued");
            assertFalse(java.util.Arrays.equals(cookie, synAck.fastOpenCookie()));
            assertEquals("one", r.app.text());
        }

        /**
         * Shards of one host share the Fast Open keys: a client's flows spread over the shards, and a cookie issued
         * on one must be valid on the shard that owns the next flow (with a key per shard only one flow in N would
         * get its data taken). A rotation on any shard is the host's. A layer with keys of its own (another host)
         * does not take the cookie.
         */
        @Test
        void cookieIssuedOnOneShardIsValidOnAnotherShardOfTheHost_rfc7413_s4_1_2() {
            FastOpenKeys host = new FastOpenKeys();
            r = TcpEndpointRig.listening(tfo(), 0, host);
            byte[] cookie = cookie();
            try (TcpEndpointRig other = TcpEndpointRig.listening(tfo(), 0, host);
                 TcpEndpointRig stranger = TcpEndpointRig.listening(tfo())) {
                other.sendTo(other.theirSyn().fastOpen(cookie).payload("GET /"), LOCAL_IP, LISTEN_PORT, REMOTE_IP,
                    41_001);
                Segment synAck = other.recvOne();
                assertEquals(other.remoteIss + 6, synAck.ack(), "the other shard takes the data");
                assertEquals(null, synAck.fastOpenCookie(), "and issues no new cookie");
                assertEquals("GET /", other.app.text());
                other.layer.rotateFastOpenKey();
                byte[] fresh = cookie();
                assertFalse(java.util.Arrays.equals(cookie, fresh), "the rotation reached this shard");
                other.sendTo(other.theirSyn().fastOpen(fresh).payload("new"), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 41_002);
                assertEquals(other.remoteIss + 4, other.recvOne().ack(), "the new key's cookie on the other shard");
                other.sendTo(other.theirSyn().fastOpen(cookie).payload("old"), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 41_003);
                assertEquals(other.remoteIss + 4, other.recvOne().ack(), "the previous key's too");
                stranger.sendTo(stranger.theirSyn().fastOpen(fresh).payload("GET /"), LOCAL_IP, LISTEN_PORT, REMOTE_IP,
                    41_004);
                assertEquals(stranger.remoteIss + 1, stranger.recvOne().ack(), "another host's key: data not taken");
            }
        }

        @Test
        void synDataWithoutACookieIsNeverDeliveredEarly_rfc7413_s4_2_2() {
            r = TcpEndpointRig.listening(tfo());
            r.send(r.theirSyn().payload("early"));
            Segment synAck = r.learnSynAck();
            assertEquals(r.ourSynAck(), synAck);
            assertEquals(List.of(), r.app.events);
        }

        @Test
        void serverWithoutFastOpenIgnoresTheOptionAndTheData_rfc7413_s4_2_2() {
            r = TcpEndpointRig.listening(plainConfig().withFastOpen(false, 0));
            r.send(r.theirSyn().fastOpen(new byte[8]).payload("early"));
            Segment synAck = r.learnSynAck();
            assertEquals(r.ourSynAck(), synAck, "no cookie, data not acknowledged");
        }

        /**
         * Review finding: a spoofed SYN with data, answered by the victim's RST, must not free its Fast Open place
         * at once, or fastOpenMaxPending would no longer bound what we send to spoofed addresses (RFC 7413 §5.1;
         * Linux holds reset requests for 60 s).
         */
        @Test
        void aResetFastOpenConnectionKeepsItsPlaceForAMinute_rfc7413_s5_1() {
            r = TcpEndpointRig.listening(cookies(TcpConfig.SynCookieMode.OFF).withFastOpen(true, 1));
            byte[] cookie = cookie();
            r.sendTo(r.theirSyn().fastOpen(cookie).payload("one"), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 41_001);
            assertEquals(r.remoteIss + 4, r.recvOne().ack());
            r.sendTo(Segment.of(RST).seq(r.remoteIss + 4), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 41_001);
            assertEquals(List.of("accept", "closed " + io.fastpath.stack.NtStatus.name(
                io.fastpath.stack.NtStatus.STATUS_CONNECTION_RESET)), r.app.events, "reset");
            r.sendTo(r.theirSyn().fastOpen(cookie).payload("two"), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 41_002);
            assertEquals(r.remoteIss + 1, r.recvOne().ack(), "the reset connection's place is still taken");
            r.step(61_000 * MS);
            r.recvAll();
            r.sendTo(r.theirSyn().fastOpen(cookie).payload("three"), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 41_003);
            assertEquals(r.remoteIss + 6, r.recvOne().ack(), "a minute later the place is free again");
        }

        @Test
        void synDataBeyondTheMaxPendingIsNotTakenEarly_rfc7413_s5_1() {
            r = TcpEndpointRig.listening(cookies(TcpConfig.SynCookieMode.OFF).withFastOpen(true, 1));
            byte[] cookie = cookie();
            r.sendTo(r.theirSyn().fastOpen(cookie).payload("one"), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 41_001);
            assertEquals(r.remoteIss + 4, r.recvOne().ack());
            r.sendTo(r.theirSyn().fastOpen(cookie).payload("two"), LOCAL_IP, LISTEN_PORT, REMOTE_IP, 41_002);
            assertEquals(r.remoteIss + 1, r.recvOne().ack(), "one Fast Open connection pending at most");
            assertEquals("one", r.app.text());
        }
    }
}
