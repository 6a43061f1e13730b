package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.shard.FlowOwner;
import io.fastpath.stack.wire.Ipv4Address;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.agrona.BufferUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12 item 2 (provider side): shard ids in handles, and one {@link ShardedTcpClient} reaching connections on
 * two shards ({@link ShardRig}) without knowing where they live.
 */
class ShardedTcpClientTest {
    private static final int PEER_IP = Ipv4Address.parse("10.16.0.1");
    private static final int SERVER_IP = Ipv4Address.parse("10.16.0.2");
    /** The test's flow owner: a flow from an odd local port is shard 1's. */
    private static final FlowOwner BY_PORT_PARITY = (localIp, localPort, remoteIp, remotePort) -> localPort & 1;

    @TempDir
    Path dir;
    private ShardRig rig;
    private final ByteBuffer data = BufferUtil.allocateDirectAligned(64 * 1024, 64);

    @BeforeEach
    void up() {
        rig = new ShardRig(dir, "shc", PEER_IP, SERVER_IP);
        for (int i = 0; i < data.capacity(); i++) {
            data.put(i, (byte) i);
        }
    }

    @AfterEach
    void down() {
        rig.close();
    }

    /** What a client saw, by handle. */
    private static final class Seen implements TcpEventHandler {
        final List<int[]> listens = new ArrayList<>(); // port, status
        final List<Long> accepted = new ArrayList<>();
        final Map<Long, Long> connected = new HashMap<>(); // request id -> handle
        final Map<Long, Integer> connectStatus = new HashMap<>();
        final Map<Long, Long> received = new HashMap<>();
        final List<long[]> held = new ArrayList<>(); // handle, mbuf, length
        final List<long[]> sent = new ArrayList<>(); // request id, handle, bytes, status
        final List<Long> closed = new ArrayList<>();
        boolean keep;
        TcpClient client;

        @Override
        public void onListenComplete(int port, int status) {
            listens.add(new int[] {port, status});
        }

        @Override
        public void onConnectComplete(long requestId, long handle, int status) {
            connected.put(requestId, handle);
            connectStatus.put(requestId, status);
        }

        @Override
        public void onAccepted(int listenPort, long handle, int remoteIp, int remotePort) {
            accepted.add(handle);
        }

        @Override
        public void onReceive(long handle, long mbuf, long address, int length) {
            received.merge(handle, (long) length, Long::sum);
            if (keep) {
                held.add(new long[] {handle, mbuf, length});
            } else {
                assertTrue(client.release(handle, mbuf, length));
            }
        }

        @Override
        public void onSendComplete(long requestId, long handle, int bytes, int status) {
            sent.add(new long[] {requestId, handle, bytes, status});
        }

        @Override
        public void onPeerClosed(long handle) {
        }

        @Override
        public void onClosed(long handle, int status) {
            closed.add(handle);
        }
    }

    @Test
    void handlesCarryTheirShardAndShardZeroHandlesAreUnchanged() {
        assertEquals(0, rig.shards.get(0).shard());
        assertEquals(1, rig.shards.get(1).shard());
        long generation = 7L << 32;
        assertEquals(0, TcpService.shardOf(generation | 5));
        assertEquals(1, TcpService.shardOf(generation | 1L << TcpService.SHARD_SHIFT | 5));
        assertEquals(63, TcpService.shardOf(-1L));
        assertThrows(IllegalArgumentException.class, () -> new TcpService(rig.servers[0].tcp(), 1024,
            rig.servers[0].counters(), 16, TcpService.MAX_SHARDS));
        assertThrows(IllegalArgumentException.class,
            () -> new ShardedTcpClient(List.of(rig.shards.get(1), rig.shards.get(0)), BY_PORT_PARITY));

        // One connection per shard, through each shard's own client.
        Seen[] server = {new Seen(), new Seen()};
        for (int s = 0; s < 2; s++) {
            TcpServiceClient c = rig.shards.get(s).newClient();
            server[s].client = c;
            Seen seen = server[s];
            rig.polled.add(() -> c.pollEvents(seen));
            assertTrue(c.listen(7));
            rig.peers[s].tcpService().connect(1, SERVER_IP, 7, 0);
        }
        rig.pumpUntil(() -> server[0].accepted.size() == 1 && server[1].accepted.size() == 1, "both accepted");
        long h0 = server[0].accepted.get(0);
        long h1 = server[1].accepted.get(0);
        assertEquals(0, TcpService.shardOf(h0));
        assertEquals(0, h0 & TcpService.SHARD_MASK, "shard 0's handles are the TcpLayer's");
        assertEquals(1, TcpService.shardOf(h1));
        assertEquals(h1 & ~TcpService.SHARD_MASK, rig.servers[1].tcp().connection(h1 & ~TcpService.SHARD_MASK)
            .handle(), "the rest of the handle is the TcpLayer's");
    }

    /** One connection per shard, each shard's own server client keeping what it receives; peers' clients. */
    private final Seen[] server = {new Seen(), new Seen()};
    private final Seen[] peer = {new Seen(), new Seen()};
    private final TcpServiceClient[] clients = new TcpServiceClient[2];
    private final TcpServiceClient[] peerClients = new TcpServiceClient[2];

    private void connectionPerShard() {
        for (int s = 0; s < 2; s++) {
            TcpServiceClient c = rig.shards.get(s).newClient();
            clients[s] = c;
            server[s].client = c;
            server[s].keep = true;
            Seen seen = server[s];
            rig.polled.add(() -> c.pollEvents(seen));
            assertTrue(c.listen(7));
            TcpServiceClient p = rig.peers[s].tcpService().newClient();
            peerClients[s] = p;
            peer[s].client = p;
            Seen ps = peer[s];
            rig.polled.add(() -> p.pollEvents(ps));
        }
        rig.pumpUntil(() -> server[0].listens.size() == 1 && server[1].listens.size() == 1, "listening");
        for (int s = 0; s < 2; s++) {
            assertTrue(peerClients[s].connect(1, SERVER_IP, 7, 0));
        }
        rig.pumpUntil(() -> peer[0].connected.size() == 1 && peer[1].connected.size() == 1
            && server[0].accepted.size() == 1 && server[1].accepted.size() == 1, "one connection per shard");
        for (int s = 0; s < 2; s++) {
            assertTrue(peerClients[s].send(peer[s].connected.get(1L), 9, BufferUtil.address(data), 1000));
        }
        rig.pumpUntil(() -> !server[0].held.isEmpty() && !server[1].held.isEmpty(), "each shard holds data");
    }

    @Test
    void anotherShardsHandleIsRefusedAndCounted() {
        connectionPerShard();
        long h1 = server[1].accepted.get(0);
        long[] d1 = server[1].held.get(0);
        var counters0 = rig.servers[0].counters();
        long requestsBefore = counters0.drop(DropReason.REQUEST_REFUSED).get();
        long releasesBefore = counters0.drop(DropReason.RELEASE_REFUSED).get();
        int held0 = rig.shards.get(0).heldDescriptors();
        // Shard 1's handle sent to shard 0's service: a send, a no-delay, an abort and a release (shard 0's client
        // holds a descriptor, so the release has credit and reaches the poll thread).
        assertTrue(clients[0].send(h1, 77, BufferUtil.address(data), 100));
        assertTrue(clients[0].noDelay(h1, true));
        assertTrue(clients[0].abort(h1));
        assertTrue(clients[0].release(d1[0], d1[1], (int) d1[2]));
        rig.pumpUntil(() -> server[0].sent.size() == 1, "the refused send completes");
        rig.pumpFor(20);
        assertEquals(NtStatus.STATUS_INVALID_CONNECTION, (int) server[0].sent.get(0)[3]);
        assertEquals(h1, server[0].sent.get(0)[1], "a refused send's handle goes back as given");
        assertEquals(requestsBefore + 3, counters0.drop(DropReason.REQUEST_REFUSED).get(),
            "send, no-delay and abort refused and counted");
        assertEquals(releasesBefore + 1, counters0.drop(DropReason.RELEASE_REFUSED).get(), "release refused");
        assertEquals(held0, rig.shards.get(0).heldDescriptors(), "shard 0 freed nothing");
        assertEquals(1, rig.shards.get(1).heldDescriptors(), "shard 1 still holds its descriptor");
        assertTrue(server[1].closed.isEmpty(), "the connection on shard 1 was not touched");
        assertEquals(0, rig.servers[1].counters().drop(DropReason.REQUEST_REFUSED).get());

        // Shard 0's handle at shard 1's service, by the side path too: a full request ring sends controls there.
        long h0 = server[0].accepted.get(0);
        long before1 = rig.servers[1].counters().drop(DropReason.REQUEST_REFUSED).get();
        int queued = 0;
        while (clients[1].noDelay(h0, true)) {
            queued++; // fill shard 1's client's request ring (nothing polls it meanwhile)
        }
        assertTrue(clients[1].abort(h0)); // on the side path now
        long expected = before1 + queued + 1;
        rig.pumpUntil(() -> rig.servers[1].counters().drop(DropReason.REQUEST_REFUSED).get() >= expected,
            "every control taken");
        rig.pumpFor(20);
        assertEquals(expected, rig.servers[1].counters().drop(DropReason.REQUEST_REFUSED).get(),
            "ring and side-path controls with another shard's handle refused and counted");
        assertTrue(server[0].closed.isEmpty(), "the connection on shard 0 was not touched");

        // Through each shard's own client everything is honoured.
        for (int s = 0; s < 2; s++) {
            for (long[] d : server[s].held) {
                assertTrue(clients[s].release(d[0], d[1], (int) d[2]));
            }
        }
        rig.pumpUntil(() -> rig.held() == 0, "released on both shards");
        assertEquals(0, rig.servers[1].counters().drop(DropReason.RELEASE_REFUSED).get());
    }

    @Test
    void shardedClientRoutesByHandleAndMergesListens() {
        ShardedTcpClient sharded = new ShardedTcpClient(rig.shards, BY_PORT_PARITY);
        assertTrue(TcpClient.open(rig.shards, BY_PORT_PARITY) instanceof ShardedTcpClient);
        assertTrue(TcpClient.open(List.of(rig.shards.get(0)), FlowOwner.SINGLE) instanceof TcpServiceClient,
            "one shard: the service's own client, nothing in between");
        Seen app = new Seen();
        app.client = sharded;
        app.keep = true;
        rig.polled.add(() -> sharded.pollEvents(app));
        int startInUse = rig.pool.inUseCount();

        // Listen: one outcome for both shards.
        assertTrue(sharded.listen(7));
        rig.pumpFor(30);
        assertEquals(1, app.listens.size());
        assertEquals(7, app.listens.get(0)[0]);
        assertEquals(NtStatus.STATUS_SUCCESS, app.listens.get(0)[1]);

        // A connection arrives on each shard; data from both reaches the one client; releases go home.
        for (int s = 0; s < 2; s++) {
            TcpServiceClient p = rig.peers[s].tcpService().newClient();
            peerClients[s] = p;
            Seen ps = peer[s];
            ps.client = p;
            rig.polled.add(() -> p.pollEvents(ps));
            assertTrue(p.connect(1, SERVER_IP, 7, 0));
        }
        rig.pumpUntil(() -> app.accepted.size() == 2 && peer[0].connected.size() == 1
            && peer[1].connected.size() == 1, "accepted on both shards");
        assertEquals(1, app.accepted.stream().filter(h -> TcpService.shardOf(h) == 1).count());
        for (int s = 0; s < 2; s++) {
            assertTrue(peerClients[s].send(peer[s].connected.get(1L), 9, BufferUtil.address(data), 5000 + s));
        }
        rig.pumpUntil(() -> app.received.values().stream().mapToLong(Long::longValue).sum() == 10001,
            "data from both shards");
        assertTrue(rig.shards.get(0).heldDescriptors() > 0 && rig.shards.get(1).heldDescriptors() > 0,
            "each shard holds its own connection's descriptors");
        for (long[] d : app.held) {
            assertTrue(sharded.release(d[0], d[1], (int) d[2]));
        }
        // Sends back on each connection, by handle.
        for (long h : app.accepted) {
            assertTrue(sharded.send(h, 100 + TcpService.shardOf(h), BufferUtil.address(data), 3000));
        }
        rig.pumpUntil(() -> app.sent.size() == 2 && peer[0].received.values().stream().mapToLong(x -> x).sum() == 3000
            && peer[1].received.values().stream().mapToLong(x -> x).sum() == 3000, "sent back on both shards");
        for (long[] c : app.sent) {
            assertEquals(NtStatus.STATUS_SUCCESS, (int) c[3]);
            assertEquals(c[0] - 100, TcpService.shardOf(c[1]), "completion from the handle's shard");
        }
        rig.pumpUntil(() -> rig.held() == 0, "every descriptor back");

        // Connects: ephemeral ones take the shards in turn; a given local port goes to its owner.
        for (int k = 0; k < 2; k++) {
            assertTrue(peerClients[k].listen(9));
        }
        rig.pumpFor(20);
        assertTrue(sharded.connect(11, 0, 0, PEER_IP, 9, 0, 0, false));
        long position = sharded.requestPosition();
        assertTrue(sharded.connect(12, 0, 0, PEER_IP, 9, 0, 0, false));
        assertTrue(sharded.connect(13, 0, 40001, PEER_IP, 9, 0, 0, false)); // odd: shard 1
        assertTrue(sharded.connect(14, 0, 40002, PEER_IP, 9, 0, 0, false)); // even: shard 0
        rig.pumpUntil(() -> app.connected.size() == 4, "four connects");
        assertTrue(sharded.requestsTaken(position));
        for (long id = 11; id <= 14; id++) {
            assertEquals(NtStatus.STATUS_SUCCESS, app.connectStatus.get(id), "connect " + id);
        }
        int first = TcpService.shardOf(app.connected.get(11L));
        assertEquals(first, sharded.positionShard(position), "the position is on the connect's shard");
        assertEquals(1 - first, TcpService.shardOf(app.connected.get(12L)), "ephemeral connects alternate");
        assertEquals(1, TcpService.shardOf(app.connected.get(13L)));
        assertEquals(0, TcpService.shardOf(app.connected.get(14L)));
        rig.pumpUntil(() -> peer[0].accepted.size() + peer[1].accepted.size() == 4, "the peers accepted");
        assertEquals(2, peer[0].accepted.size(), "two on each wire");
        assertEquals(2, peer[1].accepted.size());

        // Abort everything through the sharded client: each lands on its own shard.
        for (long h : app.accepted) {
            assertTrue(sharded.abort(h));
        }
        for (long h : app.connected.values()) {
            assertTrue(sharded.abort(h));
        }
        rig.pumpUntil(() -> app.closed.size() == 6, "six closed");
        for (int s = 0; s < 2; s++) {
            assertEquals(0, rig.servers[s].counters().drop(DropReason.REQUEST_REFUSED).get());
            assertEquals(0, rig.servers[s].counters().drop(DropReason.RELEASE_REFUSED).get());
        }
        sharded.close();
        rig.pumpUntil(sharded::isClosed, "closed on both shards");
        rig.pumpUntil(() -> rig.pool.inUseCount() == startInUse, "the pool is back where it started");
    }

    @Test
    void aListenThatFailsOnOneShardFailsAndIsUndoneOnTheOthers() {
        ShardedTcpClient sharded = new ShardedTcpClient(rig.shards, BY_PORT_PARITY);
        Seen app = new Seen();
        app.client = sharded;
        rig.polled.add(() -> sharded.pollEvents(app));
        // Another client holds port 8 on shard 1 only.
        TcpServiceClient other = rig.shards.get(1).newClient();
        Seen otherSeen = new Seen();
        rig.polled.add(() -> other.pollEvents(otherSeen));
        assertTrue(other.listen(8));
        rig.pumpUntil(() -> otherSeen.listens.size() == 1, "other listens");

        assertTrue(sharded.listen(8));
        rig.pumpUntil(() -> app.listens.size() == 1, "one outcome");
        assertEquals(NtStatus.STATUS_SHARING_VIOLATION, app.listens.get(0)[1], "shard 1's failure");
        // Shard 0 closed the port again: a connection to it there is refused.
        TcpServiceClient p = rig.peers[0].tcpService().newClient();
        Seen ps = new Seen();
        rig.polled.add(() -> p.pollEvents(ps));
        assertTrue(p.connect(1, SERVER_IP, 8, 0));
        rig.pumpUntil(() -> ps.connectStatus.size() == 1, "connect answered");
        assertEquals(NtStatus.STATUS_CONNECTION_REFUSED, ps.connectStatus.get(1L));

        // Listen, stop, listen again at once: two outcomes, in order, both success.
        assertTrue(sharded.listen(10));
        assertTrue(sharded.stopListening(10));
        assertTrue(sharded.listen(10));
        rig.pumpUntil(() -> app.listens.size() == 3, "two more outcomes");
        assertEquals(NtStatus.STATUS_SUCCESS, app.listens.get(1)[1]);
        assertEquals(NtStatus.STATUS_SUCCESS, app.listens.get(2)[1]);
        sharded.close();
        other.close();
        rig.pumpUntil(() -> sharded.isClosed() && other.isClosed(), "closed");
    }

    /**
     * Fills a client's request ring with requests that change nothing (a shard-1 handle naming no connection, a
     * stop for a port nobody listens on), until a stop has to wait on the side path: then no request of any size
     * gets in until the shard has read its ring.
     */
    private static int fillRing(TcpServiceClient c) {
        int n = 0;
        while (c.noDelay(1L << TcpService.SHARD_SHIFT | 0xFFFF, true)) {
            n++;
        }
        while (c.sidePathPending() == 0) {
            assertTrue(c.stopListening(65_000));
        }
        return n;
    }

    /** A peer on wire {@code s} connects to SERVER_IP:port; returns the connect's status. */
    private int peerConnects(int s, int port) {
        TcpServiceClient p = rig.peers[s].tcpService().newClient();
        Seen ps = new Seen();
        ps.client = p;
        rig.polled.add(() -> p.pollEvents(ps));
        assertTrue(p.connect(1, SERVER_IP, port, 0));
        rig.pumpUntil(() -> ps.connectStatus.size() == 1, "connect on wire " + s + " answered");
        return ps.connectStatus.get(1L);
    }

    /**
     * Review finding: the failure made up for a shard whose ring is full belongs to the listen that found it full.
     * Taken at once, it was credited to an earlier listen on the port still waiting for that shard's answer: that
     * listen failed (and was undone on shard 0) although both shards opened the port, and the shard's real answer
     * then went to the later listen.
     */
    @Test
    void aRingFullFailureIsCreditedToItsOwnListenNotToAnEarlierOneOnThePort() {
        ShardedTcpClient sharded = new ShardedTcpClient(rig.shards, BY_PORT_PARITY);
        Seen app = new Seen();
        app.client = sharded;
        rig.polled.add(() -> sharded.pollEvents(app));
        assertTrue(sharded.listen(20)); // asked on both shards, not answered yet
        assertTrue(fillRing(sharded.shard(1)) > 0);
        assertTrue(sharded.listen(20)); // shard 1's ring is full: it fails there
        rig.pumpUntil(() -> app.listens.size() == 2, "two outcomes");
        assertEquals(NtStatus.STATUS_SUCCESS, app.listens.get(0)[1], "the first listen opened the port everywhere");
        assertTrue(app.listens.get(1)[1] != NtStatus.STATUS_SUCCESS, "the second failed: "
            + NtStatus.name(app.listens.get(1)[1]));
        rig.pumpFor(20);
        for (int s = 0; s < 2; s++) {
            assertEquals(NtStatus.STATUS_SUCCESS, peerConnects(s, 20), "the first listen's port open on shard " + s);
        }
        sharded.close();
        rig.pumpUntil(sharded::isClosed, "closed");
    }

    /**
     * Review finding: a listen that finds a shard's ring full while the shard owes answers to earlier listens on
     * the port gets a made-up failure that waits in a list. A caller spinning listen (shard 0 taking each, shard 1
     * stalled with a full ring) grew that list by one a listen, without end. Now listen is refused (false, counted)
     * at the bound, and every listen it took still completes once shard 1 runs again.
     */
    @Test
    void aListenSpinningOnAStalledShardsFullRingCannotGrowTheMadeUpAnswersPastTheirBound() {
        ShardedTcpClient sharded = new ShardedTcpClient(rig.shards, BY_PORT_PARITY);
        Seen app = new Seen();
        app.client = sharded;
        assertTrue(sharded.listen(22)); // asked on both shards; shard 1 (not polled) owes its answer
        assertTrue(fillRing(sharded.shard(1)) > 0);
        int taken = 1;
        for (int i = 0; i < 4 * ShardedTcpClient.MAX_SYNTHESIZED; i++) {
            if (sharded.listen(22)) {
                taken++;
            }
            rig.shards.get(0).poll(); // shard 0 takes and answers each listen; shard 1 stays stalled
            sharded.pollEvents(app);
            assertTrue(sharded.synthesizedWaiting() <= ShardedTcpClient.MAX_SYNTHESIZED,
                sharded.synthesizedWaiting() + " made-up answers waiting");
        }
        assertTrue(taken <= ShardedTcpClient.MAX_SYNTHESIZED + 1, taken + " listens taken");
        assertEquals(4 * ShardedTcpClient.MAX_SYNTHESIZED + 1 - taken, sharded.listensRefused());
        assertTrue(sharded.listensRefused() > 0);
        rig.polled.add(() -> sharded.pollEvents(app));
        int all = taken;
        rig.pumpUntil(() -> app.listens.size() == all, "every listen taken completes");
        assertEquals(NtStatus.STATUS_SUCCESS, app.listens.get(0)[1], "the first listen opened the port everywhere");
        for (int i = 1; i < taken; i++) {
            assertTrue(app.listens.get(i)[1] != NtStatus.STATUS_SUCCESS, "listen " + i + " (the port is open)");
        }
        assertEquals(0, sharded.synthesizedWaiting());
        sharded.close();
        rig.pumpUntil(sharded::isClosed, "closed");
    }

    /**
     * Review finding: a listen that failed on one shard is undone on the shards that opened the port, by a stop sent
     * when its outcome is complete. If the application stopped the port and listened again meanwhile, that stop is
     * already on each shard's ring behind the first listen; the undo came after the new listen and closed its port
     * on shard 0, while the new listen reported success.
     */
    @Test
    void aListenStoppedAndAskedAgainBeforeItsPartialFailureIsKnownKeepsTheNewListener() {
        ShardedTcpClient sharded = new ShardedTcpClient(rig.shards, BY_PORT_PARITY);
        Seen app = new Seen();
        app.client = sharded;
        rig.polled.add(() -> sharded.pollEvents(app));
        assertTrue(fillRing(sharded.shard(1)) > 0);
        assertTrue(sharded.listen(21)); // opens on shard 0, fails on shard 1 (ring full)
        for (int i = 0; i < 1_000; i++) {
            rig.shards.get(1).poll(); // shard 1's stack takes the filler; no event is read yet
        }
        assertTrue(sharded.stopListening(21)); // the application gives up on it ...
        assertTrue(sharded.listen(21)); // ... and asks again before hearing the first outcome
        rig.pumpUntil(() -> app.listens.size() == 2, "two outcomes");
        assertEquals(NtStatus.STATUS_INSUFFICIENT_RESOURCES, app.listens.get(0)[1]);
        assertEquals(NtStatus.STATUS_SUCCESS, app.listens.get(1)[1]);
        rig.pumpFor(20);
        for (int s = 0; s < 2; s++) {
            assertEquals(NtStatus.STATUS_SUCCESS, peerConnects(s, 21), "the second listen's port open on shard " + s);
        }
        sharded.close();
        rig.pumpUntil(sharded::isClosed, "closed");
    }
}
