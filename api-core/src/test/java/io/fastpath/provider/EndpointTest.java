package io.fastpath.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.agrona.BufferUtil;
import org.agrona.collections.Long2ObjectHashMap;
import org.junit.jupiter.api.Test;

/**
 * The shared connection machinery without a stack: the controls, the releaser and the submitter are the test's,
 * so each test sees exactly what the endpoint asked the stack for, in order.
 */
class EndpointTest {
    private static final long HANDLE = 0x0000_0007_0000_0003L;

    /** What reached "the stack": "send p", "shutdown h", "abort h", "release h m l". */
    private final List<String> stack = new ArrayList<>();
    private final Long2ObjectHashMap<Object> byHandle = new Long2ObjectHashMap<>();
    private final Object owner = new Object();
    /** The request ring has room for this many more sends. */
    private int ringRoom = Integer.MAX_VALUE;

    private final Endpoint.Controls controls = new Endpoint.Controls() {
        @Override
        public void shutdown(long handle) {
            stack.add("shutdown " + handle);
        }

        @Override
        public void abort(long handle) {
            stack.add("abort " + handle);
        }
    };

    private int submit(TestIrp irp, boolean drained) {
        if (irp.parameter < 0) { // a FIN-like request: only once every earlier send is answered
            if (!drained) {
                return SendPump.STOP;
            }
            stack.add("fin " + -irp.parameter);
            return SendPump.TAKEN;
        }
        if (ringRoom == 0) {
            return SendPump.STOP;
        }
        ringRoom--;
        stack.add("send " + irp.parameter);
        return SendPump.SUBMITTED;
    }

    private Endpoint<TestIrp, Object> endpoint(int maxSends) {
        return new Endpoint<>(controls, (h, m, l) -> stack.add("release " + h + " " + m + " " + l), new NativeCopier(),
            byHandle, owner, 2, maxSends, this::submit);
    }

    private static TestIrp irp(int parameter) {
        TestIrp irp = new TestIrp();
        irp.parameter = parameter;
        return irp;
    }

    @Test
    void sendsGoToTheStackInOrderAtMostMaxAtATimeAndCompleteOldestFirst() {
        Endpoint<TestIrp, Object> ep = endpoint(2);
        ep.attach(HANDLE);
        TestIrp a = irp(1);
        TestIrp b = irp(2);
        TestIrp c = irp(3);
        ep.sends().add(a);
        ep.sends().add(b);
        ep.sends().add(c);
        ep.pumpSends();
        assertEquals(List.of("send 1", "send 2"), stack, "two in the stack, the third waits");
        assertEquals(2, ep.sends().inStack());
        assertFalse(ep.quiescent());
        assertSame(a, ep.sends().completeOldest());
        ep.pumpSends();
        assertEquals(List.of("send 1", "send 2", "send 3"), stack);
        assertSame(b, ep.sends().completeOldest());
        assertSame(c, ep.sends().completeOldest());
        assertNull(ep.sends().completeOldest(), "nothing left to answer for");
        assertTrue(ep.sends().isEmpty());
        assertTrue(ep.quiescent());
    }

    @Test
    void aFullRequestRingStopsThePumpWithoutLosingOrder() {
        Endpoint<TestIrp, Object> ep = endpoint(8);
        ep.attach(HANDLE);
        ringRoom = 1;
        TestIrp a = irp(1);
        TestIrp b = irp(2);
        ep.sends().add(a);
        ep.sends().add(b);
        assertFalse(ep.sends().pump(), "stopped with a send left");
        assertEquals(List.of("send 1"), stack);
        assertFalse(ep.sends().waitingEmpty());
        ringRoom = 1;
        assertTrue(ep.sends().pump());
        assertEquals(List.of("send 1", "send 2"), stack);
        assertSame(a, ep.sends().completeOldest());
    }

    @Test
    void aRequestThatWaitsForTheSendsBeforeItGoesOnlyOnceTheyAreAnswered() {
        Endpoint<TestIrp, Object> ep = endpoint(8);
        ep.attach(HANDLE);
        TestIrp send = irp(1);
        TestIrp fin = irp(-9);
        ep.sends().add(send);
        ep.sends().add(fin);
        ep.pumpSends();
        assertEquals(List.of("send 1"), stack, "the FIN waits for the send's answer");
        assertSame(send, ep.sends().completeOldest());
        ep.pumpSends();
        assertEquals(List.of("send 1", "fin 9"), stack);
        assertTrue(ep.sends().isEmpty(), "taken: the submitter owns it now");
    }

    @Test
    void shutdownAfterSendsSendsTheFinOnceEveryQueuedSendIsInTheStack() {
        Endpoint<TestIrp, Object> ep = endpoint(1);
        ep.attach(HANDLE);
        ep.sends().add(irp(1));
        ep.sends().add(irp(2));
        ep.shutdownAfterSends();
        ep.pumpSends();
        assertEquals(List.of("send 1"), stack, "the second send waits: no FIN yet");
        assertTrue(ep.localReleased());
        assertTrue(ep.abortAtClose(), "the FIN has not gone out: a close resets");
        ep.sends().completeOldest();
        ep.pumpSends();
        assertEquals(List.of("send 1", "send 2", "shutdown " + HANDLE), stack);
        ep.pumpSends();
        assertEquals(3, stack.size(), "one FIN");
    }

    @Test
    void theDisconnectSequenceDecidesWhetherACloseResets() {
        Endpoint<TestIrp, Object> ep = endpoint(8);
        assertFalse(ep.abortAtClose(), "no connection");
        assertTrue(ep.quiescent());
        ep.attach(HANDLE);
        assertTrue(ep.abortAtClose(), "open both ways");
        ep.shutdown();
        assertTrue(ep.abortAtClose(), "half-closed: the peer may still send");
        ep.onPeerClosed();
        assertFalse(ep.abortAtClose(), "closed both ways in good order");
        assertEquals(List.of("shutdown " + HANDLE), stack);

        ep.attach(HANDLE + 1); // a new connection: fresh state
        assertFalse(ep.localReleased());
        assertFalse(ep.peerReleased());
        ep.abort();
        assertEquals("abort " + (HANDLE + 1), stack.get(1));
        assertFalse(ep.abortAtClose(), "aborted already");
        assertTrue(ep.sendsBlocked());
        assertFalse(ep.quiescent(), "the stack has not answered the abort");
        ep.onStackClosed(false);
        assertTrue(ep.quiescent());
        assertTrue(ep.stackClosed());
        assertFalse(ep.peerReleased(), "a reset is not the peer's FIN");
    }

    @Test
    void theHandleMapHoldsTheEndpointUntilUnmappedAndNotAnotherOwnersEntry() {
        Endpoint<TestIrp, Object> ep = endpoint(8);
        ep.attach(HANDLE);
        assertSame(owner, byHandle.get(HANDLE));
        ep.unmap();
        assertNull(byHandle.get(HANDLE));
        Object other = new Object();
        byHandle.put(HANDLE, other); // the handle went to someone else meanwhile
        ep.unmap();
        assertSame(other, byHandle.get(HANDLE), "not ours: left alone");
        ep.clearHandle();
        assertFalse(ep.hasHandle());
    }

    @Test
    void receivedDescriptorsAreCopiedConsumedAndReturnedOnceEachWithTheConnectionsHandle() {
        Endpoint<TestIrp, Object> ep = endpoint(8);
        ep.attach(HANDLE);
        ByteBuffer one = ByteBuffer.allocateDirect(4);
        ByteBuffer two = ByteBuffer.allocateDirect(4);
        one.put(0, "abcd".getBytes());
        two.put(0, "efgh".getBytes());
        ep.onReceive(11, BufferUtil.address(one), 4);
        ep.onReceive(12, BufferUtil.address(two), 4);
        assertEquals(8, ep.receivedBytes());
        ByteBuffer target = ByteBuffer.allocateDirect(8);
        assertEquals(3, ep.copyTo(BufferUtil.address(target), 3, true), "peek");
        assertTrue(stack.isEmpty());
        assertEquals(5, ep.copyTo(BufferUtil.address(target), 5, false));
        byte[] got = new byte[5];
        target.get(0, got);
        assertEquals("abcde", new String(got));
        assertEquals(List.of("release " + HANDLE + " 11 4"), stack, "the first is used up");
        ep.consume(1);
        assertEquals(2, ep.receivedBytes());
        ep.releaseAll();
        assertEquals(List.of("release " + HANDLE + " 11 4", "release " + HANDLE + " 12 4"), stack);
        assertEquals(0, ep.receivedBytes());
        ep.releaseAll();
        assertEquals(2, stack.size(), "each descriptor once");
        ep.refuse(13, BufferUtil.address(one), 4);
        assertEquals("release " + HANDLE + " 13 4", stack.get(2), "one that came after the close goes back at once");
        // The queue read (and, in verifier mode, poisoned) their memory by address until here.
        Reference.reachabilityFence(one);
        Reference.reachabilityFence(two);
    }

    @Test
    void waitingSendsCanBeCancelledAndTheOnesInTheStackAreDrainedAtTheEnd() {
        Endpoint<TestIrp, Object> ep = endpoint(1);
        ep.attach(HANDLE);
        TestIrp a = irp(1);
        TestIrp b = irp(2);
        TestIrp c = irp(3);
        ep.sends().add(a);
        ep.sends().add(b);
        ep.sends().add(c);
        ep.pumpSends();
        assertFalse(ep.sends().removeWaiting(a), "in the stack: cannot be withdrawn");
        assertTrue(ep.sends().removeWaiting(c));
        assertSame(b, ep.sends().pollWaiting());
        assertNull(ep.sends().pollWaiting());
        assertSame(a, ep.sends().pollInStack());
        assertTrue(ep.sends().isEmpty());
    }
}
