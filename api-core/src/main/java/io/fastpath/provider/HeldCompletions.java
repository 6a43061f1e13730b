package io.fastpath.provider;

import io.fastpath.stack.tcp.TcpClient;
import java.util.function.LongPredicate;
import java.util.function.LongToIntFunction;

/**
 * Completions held back until the stack has taken a request record: an IRP that ends (cancelled, timed out)
 * while the record it made is still on its client's request ring, pointing at the caller's memory (a CONNECT
 * with connect data), completes only once the stack has read past that record, since the caller may free the
 * memory as soon as its IRP completes. Dispatch thread only; no allocation in steady state.
 *
 * @param <I> the API's IRP type
 */
public final class HeldCompletions<I extends Irp<I>> {
    /** Completes an IRP with a status (the provider's own complete, which runs the routine). */
    @FunctionalInterface
    public interface Completion<I> {
        void complete(I irp, int status);
    }

    private final LongPredicate taken;
    private final LongToIntFunction shardOf;
    private final IrpQueue<I> held = new IrpQueue<>();
    private int[] statuses = new int[16];
    private int head;
    /** The furthest position held for, per shard (positions of different shards do not compare). */
    private final long[] positions = new long[64];
    private long shards;

    /**
     * @param taken whether the stack has taken its client's requests up to a position
     *     ({@code TcpServiceClient::requestsTaken})
     */
    public HeldCompletions(LongPredicate taken) {
        this.taken = taken;
        this.shardOf = position -> 0;
    }

    /** Over a provider's client, sharded or not ({@link TcpClient#requestsTaken}, {@link TcpClient#positionShard}). */
    public HeldCompletions(TcpClient client) {
        this(client::requestsTaken, client::positionShard);
    }

    /**
     * @param taken   whether the stack has taken its client's requests up to a position
     * @param shardOf which shard's ring a position is on (0 to 63): the furthest position is kept per shard
     */
    public HeldCompletions(LongPredicate taken, LongToIntFunction shardOf) {
        this.taken = taken;
        this.shardOf = shardOf;
    }

    /** Holds {@code irp} until the stack has taken its client's requests up to {@code requestPosition}. */
    public void hold(I irp, int status, long requestPosition) {
        int n = held.size();
        if (n == statuses.length) {
            int[] bigger = new int[n * 2];
            for (int i = 0; i < n; i++) {
                bigger[i] = statuses[(head + i) & (statuses.length - 1)];
            }
            statuses = bigger;
            head = 0;
        }
        statuses[(head + n) & (statuses.length - 1)] = status;
        held.add(irp);
        int shard = shardOf.applyAsInt(requestPosition);
        positions[shard] = (shards & 1L << shard) != 0 ? Math.max(positions[shard], requestPosition) : requestPosition;
        shards |= 1L << shard;
    }

    /** IRPs held now. */
    public int size() {
        return held.size();
    }

    /**
     * Completes every held IRP, oldest first, once the stack has taken the requests up to the furthest position
     * held for. Returns how many completed.
     */
    public int completeTaken(Completion<I> completion) {
        if (held.isEmpty()) {
            return 0;
        }
        for (long bits = shards; bits != 0; bits &= bits - 1) {
            if (!taken.test(positions[Long.numberOfTrailingZeros(bits)])) {
                return 0;
            }
        }
        return completeAll(completion);
    }

    /** Completes every held IRP now (the provider closes and its client's ring is gone). */
    public int completeAll(Completion<I> completion) {
        int work = 0;
        I irp;
        while ((irp = held.poll()) != null) {
            int status = statuses[head];
            head = (head + 1) & (statuses.length - 1);
            completion.complete(irp, status);
            work++;
        }
        head = 0;
        shards = 0;
        return work;
    }
}
