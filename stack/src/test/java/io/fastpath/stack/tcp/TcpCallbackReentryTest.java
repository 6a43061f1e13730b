package io.fastpath.stack.tcp;

import static io.fastpath.stack.wire.TcpSegment.PSH;
import static io.fastpath.stack.wire.TcpSegment.RST;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An application that closes its connection from inside a callback: the receive path must not touch what the
 * close already freed (review finding: an abort() inside onReceive freed the queued mbufs, then the receive
 * path consumed the cleared queue's head and freed its mbuf again). The rig's packet memory throws on a double
 * free and counts buffers not returned.
 */
class TcpCallbackReentryTest {
    private TcpEndpointRig r;

    @AfterEach
    void close() {
        if (r != null) {
            r.close();
        }
    }

    @Test
    void abortInsideOnReceiveFreesEverySegmentOnce() {
        r = TcpEndpointRig.established();
        TcpEndpointRig.App app = r.app;
        int[] calls = {0};
        r.connection().handler = new TcpHandler() {
            @Override
            public int onReceive(TcpConnection c, long address, int length) {
                calls[0]++;
                c.abort(); // closes and frees the receive queue, then says it took everything
                return length;
            }

            @Override
            public void onClosed(TcpConnection c, int status) {
                app.onClosed(c, status);
            }
        };
        r.send(r.sendTempl().plus(PSH).payload("abcdef"));
        assertEquals(1, calls[0], "onReceive once");
        assertEquals(RST, r.recvOne().flags() & RST, "the abort's RST");
        // close() (after each test) checks every buffer came back; a second free of one throws at once.
    }

    @Test
    void abortInsideOnReceiveWithMoreQueuedFreesEverySegmentOnce() {
        r = TcpEndpointRig.established();
        r.app.reading = false; // two segments queue up
        r.send(r.sendTempl().plus(PSH).payload("abc"));
        r.send(r.sendTempl().seq(r.remoteIss + 4).plus(PSH).payload("def"));
        int[] calls = {0};
        TcpEndpointRig.App app = r.app;
        r.connection().handler = new TcpHandler() {
            @Override
            public int onReceive(TcpConnection c, long address, int length) {
                calls[0]++;
                c.abort();
                return 1; // took part of the head: the queue it returns to is gone
            }

            @Override
            public void onClosed(TcpConnection c, int status) {
                app.onClosed(c, status);
            }
        };
        // A third segment makes the receive path offer the queued head to the new handler.
        r.send(r.sendTempl().seq(r.remoteIss + 7).plus(PSH).payload("ghi"));
        assertEquals(1, calls[0]);
        assertEquals(true, r.emitted.stream().anyMatch(seg -> (seg.flags() & RST) != 0), "the abort's RST");
        r.emitted.clear();
    }
}
