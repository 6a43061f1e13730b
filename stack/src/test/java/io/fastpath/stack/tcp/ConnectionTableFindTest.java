package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertSame;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ConnectionTable#find} remembers the connection it found last (issue 13: consecutive segments of one
 * flow skip the hash lookup). Over random opens, releases (slots reused for other 4-tuples) and lookups of open,
 * closed and unknown 4-tuples, it answers exactly what the hash map alone answers.
 */
class ConnectionTableFindTest {
    @TempDir
    Path dir;

    @Test
    void findAnswersAsTheMapThroughOpensReleasesAndReuse() {
        try (TcpRig rig = new TcpRig(dir, TcpConfig.defaults())) {
            ConnectionTable table = rig.layer.table;
            SplittableRandom random = new SplittableRandom(42);
            Map<Long, TcpConnection> model = new HashMap<>();
            List<TcpConnection> open = new ArrayList<>();
            List<Long> known = new ArrayList<>();
            for (int i = 0; i < 100_000; i++) {
                int op = random.nextInt(10);
                if (op < 2 && open.size() < 8) {
                    TcpConnection c = table.allocateConnection();
                    int remoteIp = TcpRig.PEER + random.nextInt(3);
                    int remotePort = 1000 + random.nextInt(4);
                    int localPort = 2000 + random.nextInt(4);
                    long key = TcpLayer.key(remoteIp, remotePort, localPort);
                    if (c == null || model.containsKey(key)) {
                        if (c != null) {
                            table.freeList[table.freeCount++] = c.index;
                        }
                        continue;
                    }
                    table.open(c, remoteIp, remotePort, localPort);
                    c.state = TcpState.ESTABLISHED;
                    model.put(key, c);
                    open.add(c);
                    known.add(key);
                } else if (op < 4 && !open.isEmpty()) {
                    TcpConnection c = open.remove(random.nextInt(open.size()));
                    model.remove(c.key);
                    table.releaseConnection(c); // back on the free list: the slot is reused for other 4-tuples
                } else {
                    long key = !known.isEmpty() && random.nextInt(4) > 0 ? known.get(random.nextInt(known.size()))
                        : TcpLayer.key(TcpRig.PEER + random.nextInt(3), 1000 + random.nextInt(4), 2000 + random.nextInt(4));
                    TcpConnection expected = model.get(key);
                    assertSame(expected, table.find(key), "op " + i);
                    assertSame(table.connections.get(key), table.find(key), "op " + i);
                    if (random.nextBoolean()) {
                        assertSame(expected, table.find(key), "again, op " + i);
                    }
                }
            }
            for (TcpConnection c : open) {
                table.releaseConnection(c);
            }
        }
    }
}
