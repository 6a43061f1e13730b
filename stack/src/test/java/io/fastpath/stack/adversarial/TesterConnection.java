package io.fastpath.stack.adversarial;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;

/**
 * The tester's end of one TCP connection to the device under test (packetimpact's {@code TCPIPv4}): it
 * remembers SND.NXT and RCV.NXT from the segments it sent and expected, so that a test sets only the fields
 * its RFC clause is about and {@link #send} fills in the rest. Sequence numbers are unsigned 32-bit longs.
 */
final class TesterConnection {
    static final long MASK = 0xffffffffL;
    final Testbench tb;
    final int localPort;
    final int remotePort;
    long iss;
    long irs;
    /** Next sequence number we send. */
    long sndNxt;
    /** Next sequence number we expect from the DUT (what we acknowledge). */
    long rcvNxt;
    boolean timestamps;
    /** The DUT's newest TSval (our TSecr). */
    long tsRecent;
    private final long tsOffset = ThreadLocalRandom.current().nextLong(1L << 31);
    Segment synAck;

    TesterConnection(Testbench tb, int localPort, int remotePort) {
        this.tb = tb;
        this.localPort = localPort;
        this.remotePort = remotePort;
        this.iss = ThreadLocalRandom.current().nextLong(1L << 32);
        this.sndNxt = iss;
    }

    /** Our timestamp clock: 1 ms ticks from a random origin (RFC 7323 §5.4). */
    long tsNow() {
        return (System.nanoTime() / 1_000_000L + tsOffset) & MASK;
    }

    /** The three-way handshake with Linux-like SYN options; returns the SYN-ACK. */
    Segment handshake() {
        return handshake(Tcp.flags("S").window(64240).mss(1460).sackPermitted().timestamps(tsNow(), 0)
            .windowScale(7));
    }

    /** The three-way handshake with the SYN given (SEG.SEQ filled in with our ISS). */
    Segment handshake(Tcp syn) {
        timestamps = syn.has("hasTs");
        send(syn);
        synAck = expect(s -> s.flagsAre("SA"), 2000, "SYN-ACK");
        assertEquals((iss + 1) & MASK, synAck.ack(), "SYN-ACK acknowledges our SYN");
        irs = synAck.seq();
        rcvNxt = (irs + 1) & MASK;
        timestamps &= synAck.tsVal() != null;
        send(Tcp.flags("A"));
        return synAck;
    }

    /**
     * Sends a segment; unset fields come from the connection: ports, SEG.SEQ = SND.NXT (which then advances
     * by the segment's length), SEG.ACK = RCV.NXT when ACK is set, window 65535, timestamps when negotiated.
     */
    void send(Tcp t) {
        boolean defaultSeq = !t.has("seq");
        t.ports(localPort, remotePort);
        if (defaultSeq) {
            t.seq(sndNxt);
        }
        if (!t.has("ack") && t.flagString().contains("A")) {
            t.ack(rcvNxt);
        }
        if (timestamps && !t.has("hasTs") && !t.has("rawopts")) {
            t.timestamps(tsNow(), tsRecent);
        }
        tb.send(t);
        if (defaultSeq) {
            sndNxt = (sndNxt + t.seqLength()) & MASK;
        }
    }

    /** The next segment of this connection that matches; others are passed over (as packetimpact does). */
    Segment expect(Predicate<Segment> wanted, long timeoutMs, String what) {
        Segment s = tb.expect(this::mine, wanted, timeoutMs, what);
        if (s.tsVal() != null) {
            tsRecent = s.tsVal();
        }
        return s;
    }

    /** Like {@link #expect} but null on time-out. */
    Segment poll(Predicate<Segment> wanted, long timeoutMs) {
        Segment s = tb.poll(this::mine, wanted, timeoutMs);
        if (s != null && s.tsVal() != null) {
            tsRecent = s.tsVal();
        }
        return s;
    }

    /** Fails if a segment of this connection matching {@code unwanted} arrives within the time. */
    void expectNothing(Predicate<Segment> unwanted, long timeoutMs, String what) {
        tb.expectNothing(this::mine, unwanted, timeoutMs, what);
    }

    /** Fails if the DUT sends anything at all on this connection within the time. */
    void expectNothing(long timeoutMs, String what) {
        expectNothing(s -> true, timeoutMs, what);
    }

    /** An ACK from the DUT acknowledging exactly {@code ack}. */
    static Predicate<Segment> acking(long ack) {
        return s -> s.has("A") && !s.has("R") && s.ack() == (ack & MASK);
    }

    boolean mine(Segment s) {
        return s.isTcp() && s.sport() == remotePort && s.dport() == localPort;
    }

    /** Marks {@code n} bytes from the DUT as received (we acknowledge them next). */
    void consumed(long n) {
        rcvNxt = (rcvNxt + n) & MASK;
    }
}
