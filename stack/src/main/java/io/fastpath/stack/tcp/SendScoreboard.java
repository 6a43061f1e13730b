package io.fastpath.stack.tcp;

/**
 * The sender's record of every data segment in flight, [SND.UNA, SND.MAX): the RFC 6675 §3 scoreboard and the
 * per-segment state RACK needs (RFC 8985 §5.2: transmit time, retransmitted, SACKed, lost).
 *
 * <p>Read first: RFC 6675 §4 (IsLost, NextSeg, SetPipe), RFC 8985 §6.2 (RACK's per-ACK steps), RFC 2883 §4
 * (D-SACK). The records form a ring ordered by sequence number; a new segment is appended at SND.MAX, a
 * retransmission updates its record in place, the cumulative ACK pops records from the head. The ring is
 * allocated once per connection slot and sized for the send buffer, so every SACKed range of the flight is
 * represented (a record is SACKed when a block covers it whole; blocks follow segment edges) and nothing is
 * allocated per segment. When the ring is full the sender waits for ACKs ({@link #full}).
 *
 * <p>Per record: {@link #SACKED}; {@link #LOST}, the original transmission is deemed lost (IsLost, RACK or an
 * RTO); {@link #RETRANSMITTED}; {@link #RETRANSMISSION_LOST}, the latest retransmission is deemed lost (RACK
 * or an RTO). SetPipe is kept as a running sum (RFC 6675 §4, with RACK's and the RTO's marks counted as
 * IsLost): an unSACKed segment counts its length once if its original is not deemed lost, and once more if it
 * was retransmitted and that retransmission is not deemed lost.
 *
 * <p>Thread: the poll thread. Time is a parameter.
 */
final class SendScoreboard {
    static final int SACKED = 1;
    static final int LOST = 2;
    static final int RETRANSMITTED = 4;
    static final int RETRANSMISSION_LOST = 8;
    /** RFC 6675 §2 DupThresh. */
    static final int DUP_THRESH = 3;

    private final int[] start;
    private final int[] end;
    private final long[] sentNs;
    private final byte[] flags;
    private final int mask;
    private int head;
    private int count;

    /** RFC 6675 §4 SetPipe, kept up to date. */
    private int pipe;
    private int sackedBytes;
    private int sackedSegments;
    private int highestSacked;
    /** Every unSACKed sequence number below this is IsLost (RFC 6675 §4); only grows within a flight. */
    private int lostBelow;
    /** No record below this sequence number waits for a retransmission (NextSeg rule 1's scan starts here). */
    private int lostHint;

    // RACK (RFC 8985 §5.2): the most recently sent segment delivered so far.
    long rackSentNs;
    int rackEndSeq;
    long rackRttNs;
    boolean rackValid;
    /** RACK.fack: the highest sequence number delivered (SACKed or acknowledged). */
    int fack;
    boolean reorderingSeen;
    long minRttNs;

    // What the last update delivered (RFC 6937 DeliveredData; an RTT sample per Karn's rule, or -1).
    int delivered;
    long rttSampleNs = -1;
    /** SMSS for IsLost's byte test. */
    int smss = 536;

    SendScoreboard(int capacity) {
        int n = Integer.highestOneBit(Math.max(capacity, 16) * 2 - 1);
        start = new int[n];
        end = new int[n];
        sentNs = new long[n];
        flags = new byte[n];
        mask = n - 1;
    }

    void reset(int una) {
        head = 0;
        count = 0;
        pipe = 0;
        sackedBytes = 0;
        sackedSegments = 0;
        highestSacked = una;
        lostBelow = una;
        lostHint = una;
        rackValid = false;
        rackSentNs = 0;
        rackEndSeq = una;
        rackRttNs = 0;
        fack = una;
        reorderingSeen = false;
        minRttNs = 0;
        delivered = 0;
        rttSampleNs = -1;
    }

    int capacity() {
        return mask + 1;
    }

    int count() {
        return count;
    }

    boolean full() {
        return count == mask + 1;
    }

    int pipe() {
        return pipe;
    }

    int sackedBytes() {
        return sackedBytes;
    }

    int sackedSegments() {
        return sackedSegments;
    }

    /** The highest SACKed sequence number (one past the block), or SND.UNA's when nothing is SACKed. */
    int highestSacked() {
        return highestSacked;
    }

    // Record accessors by position from the head (0 = the oldest outstanding segment); tests use them.
    int start(int i) {
        return start[(head + i) & mask];
    }

    int end(int i) {
        return end[(head + i) & mask];
    }

    long sentNs(int i) {
        return sentNs[(head + i) & mask];
    }

    int flags(int i) {
        return flags[(head + i) & mask];
    }

    /** The record holding {@code seq}, or -1. */
    int find(int seq) {
        int low = 0;
        int high = count - 1;
        while (low <= high) {
            int mid = (low + high) >>> 1;
            int at = (head + mid) & mask;
            if (Seq.lt(seq, start[at])) {
                high = mid - 1;
            } else if (Seq.ge(seq, end[at])) {
                low = mid + 1;
            } else {
                return mid;
            }
        }
        return -1;
    }

    /** The first record ending after {@code seq} (count when none). */
    private int firstEndingAfter(int seq) {
        int low = 0;
        int high = count;
        while (low < high) {
            int mid = (low + high) >>> 1;
            if (Seq.le(end[(head + mid) & mask], seq)) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        return low;
    }

    private static int inPipe(int f, int len) {
        if ((f & SACKED) != 0) {
            return 0;
        }
        int n = (f & LOST) == 0 ? len : 0;
        if ((f & RETRANSMITTED) != 0 && (f & RETRANSMISSION_LOST) == 0) {
            n += len;
        }
        return n;
    }

    /** Whether the record waits for a retransmission (NextSeg rule 1). */
    static boolean awaitsRetransmission(int f) {
        return (f & SACKED) == 0 && ((f & (LOST | RETRANSMITTED)) == LOST || (f & RETRANSMISSION_LOST) != 0);
    }

    private void setFlags(int at, int f) {
        int old = flags[at];
        int len = end[at] - start[at];
        pipe += inPipe(f, len) - inPipe(old, len);
        flags[at] = (byte) f;
        if (awaitsRetransmission(f) && !awaitsRetransmission(old) && Seq.lt(start[at], lostHint)) {
            lostHint = start[at];
        }
    }

    /** New data [from, to) left at {@code nowNs}. Returns false when the ring is full (nothing recorded). */
    boolean onSend(int from, int to, long nowNs) {
        if (full() || Seq.ge(from, to)) {
            return false;
        }
        if (count > 0 && Seq.lt(from, end((count - 1)))) {
            return onRetransmit(from, to, nowNs) >= 0; // overlaps what is recorded: a retransmission
        }
        int at = (head + count) & mask;
        start[at] = from;
        end[at] = to;
        sentNs[at] = nowNs;
        flags[at] = 0;
        count++;
        pipe += to - from;
        return true;
    }

    /**
     * [from, to) was sent again at {@code nowNs}: every record it touches is marked retransmitted (Karn's rule
     * then takes no RTT sample from it) and its transmission time updated (RACK). A range beyond the records
     * (data the SYN carried, say) is recorded as a retransmitted segment. Returns how many records it touched.
     */
    int onRetransmit(int from, int to, long nowNs) {
        int touched = 0;
        for (int i = firstEndingAfter(from); i < count && Seq.lt(start(i), to); i++) {
            int at = (head + i) & mask;
            sentNs[at] = nowNs;
            setFlags(at, (flags[at] | RETRANSMITTED) & ~RETRANSMISSION_LOST);
            touched++;
        }
        int last = count == 0 ? from : end(count - 1);
        if (Seq.gt(to, last) && !full()) {
            int at = (head + count) & mask;
            start[at] = Seq.max(from, last);
            end[at] = to;
            sentNs[at] = nowNs;
            flags[at] = (byte) (RETRANSMITTED | LOST); // one transmission in flight, as a retransmission
            count++;
            pipe += to - start[at];
            touched++;
        }
        return touched;
    }

    /** Clears what the last ACK delivered (call before {@link #acknowledge} and {@link #sack}). */
    void beginAck() {
        delivered = 0;
        rttSampleNs = -1;
    }

    /** The cumulative ACK reached {@code una}: pops the records below it. */
    void acknowledge(int una, long nowNs) {
        while (count > 0) {
            int at = head;
            if (Seq.le(end[at], una)) {
                int f = flags[at];
                int len = end[at] - start[at];
                pipe -= inPipe(f, len);
                if ((f & SACKED) != 0) {
                    sackedBytes -= len;
                    sackedSegments--;
                } else {
                    delivered += len;
                    onDelivered(at, nowNs);
                }
                head = (head + 1) & mask;
                count--;
            } else {
                if (Seq.lt(start[at], una)) {
                    int f = flags[at];
                    int oldLen = end[at] - start[at];
                    int newLen = end[at] - una;
                    pipe += inPipe(f, newLen) - inPipe(f, oldLen);
                    if ((f & SACKED) != 0) {
                        sackedBytes -= oldLen - newLen;
                    } else {
                        delivered += oldLen - newLen;
                    }
                    start[at] = una;
                }
                break;
            }
        }
        if (Seq.lt(highestSacked, una) || sackedSegments == 0) {
            highestSacked = una;
        }
        if (Seq.lt(lostBelow, una)) {
            lostBelow = una;
        }
        if (Seq.lt(lostHint, una)) {
            lostHint = una;
        }
        if (Seq.gt(una, fack)) {
            fack = una;
        }
    }

    /** A SACK block [left, right) (not a D-SACK): marks the records it covers whole. */
    void sack(int left, int right, long nowNs) {
        for (int i = firstEndingAfter(left); i < count; i++) {
            int at = (head + i) & mask;
            if (Seq.gt(end[at], right)) {
                break;
            }
            int f = flags[at];
            if ((f & SACKED) != 0 || Seq.lt(start[at], left)) {
                continue;
            }
            int len = end[at] - start[at];
            setFlags(at, f | SACKED);
            sackedBytes += len;
            sackedSegments++;
            delivered += len;
            if (Seq.gt(end[at], highestSacked)) {
                highestSacked = end[at];
            }
            onDelivered(at, nowNs);
        }
    }

    /**
     * RFC 8985 §6.2 steps 1-3 for one newly delivered segment: an RTT sample unless it was retransmitted
     * (Karn's rule; RACK keeps a retransmission's sample when it came later than min_RTT, step 2), RACK's
     * most recently sent delivered segment, and reordering seen when an older, never retransmitted segment is
     * delivered below one delivered before it.
     */
    private void onDelivered(int at, long nowNs) {
        int f = flags[at];
        long rtt = nowNs - sentNs[at];
        boolean retransmitted = (f & RETRANSMITTED) != 0;
        if (!retransmitted) {
            if (rttSampleNs < 0 || rtt < rttSampleNs) {
                rttSampleNs = rtt; // the newest segment delivered by this ACK: the smallest sample
            }
            if (Seq.lt(end[at], fack)) {
                reorderingSeen = true;
            }
        }
        if (Seq.gt(end[at], fack)) {
            fack = end[at];
        }
        if (retransmitted && rtt < minRttNs) {
            return; // probably the original's delivery: ambiguous (RFC 8985 §6.2 step 2)
        }
        if (minRttNs == 0 || rtt < minRttNs) {
            minRttNs = Math.max(rtt, 1);
        }
        if (!rackValid || sentAfter(sentNs[at], end[at], rackSentNs, rackEndSeq)) {
            rackSentNs = sentNs[at];
            rackEndSeq = end[at];
            rackRttNs = rtt;
            rackValid = true;
        }
    }

    /** RFC 8985 RACK_sent_after: t1 later than t2, or the same time and a higher end. */
    static boolean sentAfter(long t1, int seq1, long t2, int seq2) {
        return t1 - t2 > 0 || t1 == t2 && Seq.gt(seq1, seq2);
    }

    /**
     * RFC 6675 §4 IsLost(SeqNum): DupThresh discontiguous SACKed segments above it, or more than
     * (DupThresh - 1) * SMSS SACKed bytes above it. For an unSACKed sequence number of the flight.
     */
    boolean isLost(int seq) {
        int segments = 0;
        int bytes = 0;
        for (int i = count - 1; i >= 0 && Seq.gt(end(i), seq); i--) {
            if ((flags(i) & SACKED) != 0 && Seq.gt(start(i), seq)) {
                segments++;
                bytes += end(i) - start(i);
                if (segments >= DUP_THRESH || bytes > (DUP_THRESH - 1) * smss) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Applies IsLost after new SACK information: finds the highest unSACKed segment that IsLost and marks it
     * and every unSACKed, never retransmitted segment below it {@link #LOST} (a retransmitted one is above
     * HighRxt's reach: RACK judges it). Returns how many records it marked.
     */
    int markLostBySack() {
        if (sackedSegments == 0) {
            return 0;
        }
        int segments = 0;
        int bytes = 0;
        int boundary = -1;
        for (int i = count - 1; i >= 0 && Seq.gt(end(i), lostBelow); i--) {
            int f = flags(i);
            if ((f & SACKED) != 0) {
                segments++;
                bytes += end(i) - start(i);
            } else if (segments >= DUP_THRESH || bytes > (DUP_THRESH - 1) * smss) {
                boundary = i;
                break;
            }
        }
        if (boundary < 0) {
            return 0;
        }
        int marked = 0;
        for (int i = firstEndingAfter(lostBelow); i <= boundary; i++) {
            int at = (head + i) & mask;
            int f = flags[at];
            if ((f & (SACKED | LOST | RETRANSMITTED)) == 0) {
                setFlags(at, f | LOST);
                marked++;
            }
        }
        lostBelow = end(boundary);
        return marked;
    }

    /**
     * RFC 8985 §6.2 step 5, RACK_detect_loss: every unSACKed segment sent before RACK's segment whose time
     * (sent + RACK.rtt + reo_wnd) has passed is lost. Returns the time left until the next one would be (for
     * the reorder timer, §6.3), or 0; {@link #rackMarked} tells how many were marked.
     */
    long rackDetectLoss(long nowNs, long reorderWindowNs) {
        rackMarked = 0;
        if (!rackValid) {
            return 0;
        }
        long timeout = 0;
        for (int i = 0; i < count; i++) {
            int at = (head + i) & mask;
            int f = flags[at];
            if (!sentAfter(rackSentNs, rackEndSeq, sentNs[at], end[at])) {
                if ((f & RETRANSMITTED) == 0) {
                    break; // original transmissions are in time order: nothing later was sent before RACK's
                }
                continue;
            }
            if ((f & SACKED) != 0 || awaitsRetransmission(f)) {
                continue;
            }
            long remaining = sentNs[at] + rackRttNs + reorderWindowNs - nowNs;
            if (remaining <= 0) {
                setFlags(at, (f & RETRANSMITTED) != 0 ? f | RETRANSMISSION_LOST | LOST : f | LOST);
                rackMarked++;
            } else if (remaining > timeout) {
                timeout = remaining;
            }
        }
        return timeout;
    }

    int rackMarked;

    /** An RTO (RFC 6675 §5.1, RFC 8985 §6.3): every unSACKed segment is deemed lost. */
    void markAllLost() {
        for (int i = 0; i < count; i++) {
            int at = (head + i) & mask;
            int f = flags[at];
            if ((f & SACKED) == 0) {
                setFlags(at, (f & RETRANSMITTED) != 0 ? f | LOST | RETRANSMISSION_LOST : f | LOST);
            }
        }
    }

    /** Marks lost the first unSACKed segment not waiting already and last sent at or before {@code sentBy}. */
    boolean markOldestLost(long sentBy) {
        for (int i = 0; i < count; i++) {
            int at = (head + i) & mask;
            int f = flags[at];
            if ((f & SACKED) != 0 || awaitsRetransmission(f)) {
                continue;
            }
            if (sentNs[at] - sentBy > 0) {
                return false;
            }
            setFlags(at, (f & RETRANSMITTED) != 0 ? f | LOST | RETRANSMISSION_LOST : f | LOST);
            return true;
        }
        return false;
    }

    /** Marks the first outstanding segment lost (NewReno without SACK: the one after a partial ACK). */
    void markFirstLost() {
        if (count > 0) {
            int f = flags[head];
            if ((f & SACKED) == 0 && !awaitsRetransmission(f)) {
                setFlags(head, (f & RETRANSMITTED) != 0 ? f | LOST | RETRANSMISSION_LOST : f | LOST);
            }
        }
    }

    /** Whether the first outstanding segment is deemed lost and waits for its retransmission. */
    boolean firstAwaitsRetransmission() {
        return count > 0 && awaitsRetransmission(flags[head]);
    }

    /** NextSeg rule 1 (RFC 6675 §4, with RACK's marks): the first record waiting for a retransmission, or -1. */
    int nextLost() {
        for (int i = firstEndingAfter(lostHint); i < count; i++) {
            int at = (head + i) & mask;
            if (awaitsRetransmission(flags[at])) {
                lostHint = start[at];
                return i;
            }
        }
        lostHint = count == 0 ? lostHint : end(count - 1);
        return -1;
    }

    /**
     * NextSeg rule 3: the first unSACKed record below the highest SACKed sequence number that was neither
     * deemed lost nor retransmitted, or -1.
     */
    int nextUnsackedBelowHighestSack() {
        for (int i = firstEndingAfter(lostBelow); i < count && Seq.lt(start(i), highestSacked); i++) {
            if ((flags(i) & (SACKED | LOST | RETRANSMITTED)) == 0) {
                return i;
            }
        }
        return -1;
    }

    /**
     * NextSeg rule 4 (rescue): the highest unSACKed record, or -1; also -1 when that one was retransmitted
     * already (the rescue is for a tail nothing else would resend).
     */
    int highestUnsacked() {
        for (int i = count - 1; i >= 0; i--) {
            int f = flags(i);
            if ((f & SACKED) == 0) {
                return (f & RETRANSMITTED) == 0 ? i : -1;
            }
        }
        return -1;
    }

    /** Whether a retransmitted segment overlaps [left, right) (a D-SACK for it means a spurious one). */
    boolean retransmittedIn(int left, int right) {
        for (int i = firstEndingAfter(left); i < count && Seq.lt(start(i), right); i++) {
            if ((flags(i) & RETRANSMITTED) != 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * Splits record {@code i} at {@code seq} (inside it), so that a retransmission smaller than the original
     * segment (a smaller MSS now) leaves the rest still waiting. Shifts the records above: rare.
     */
    void split(int i, int seq) {
        if (full() || i < 0 || i >= count || !Seq.gt(seq, start(i)) || !Seq.lt(seq, end(i))) {
            return;
        }
        for (int j = count; j > i + 1; j--) {
            int to = (head + j) & mask;
            int from = (head + j - 1) & mask;
            start[to] = start[from];
            end[to] = end[from];
            sentNs[to] = sentNs[from];
            flags[to] = flags[from];
        }
        int at = (head + i) & mask;
        int next = (head + i + 1) & mask;
        start[next] = seq;
        end[next] = end[at];
        sentNs[next] = sentNs[at];
        flags[next] = flags[at];
        end[at] = seq;
        count++;
        if ((flags[at] & SACKED) != 0) {
            sackedSegments++;
        }
    }

    /** Undo (RFC 3708 / RFC 4015): the losses were not; no segment waits for a retransmission any more. */
    void clearLostMarks() {
        for (int i = 0; i < count; i++) {
            int at = (head + i) & mask;
            int f = flags[at];
            if ((f & (LOST | RETRANSMISSION_LOST)) != 0 && (f & SACKED) == 0) {
                setFlags(at, f & ~(LOST | RETRANSMISSION_LOST));
            }
        }
        lostBelow = count == 0 ? lostBelow : start(0);
    }

    /** Forgets the SACKed marks (the peer may renege, RFC 2018 §8); not used on an RTO (RFC 6675 §5.1 keeps them). */
    void clearSacks() {
        for (int i = 0; i < count; i++) {
            int at = (head + i) & mask;
            int f = flags[at];
            if ((f & SACKED) != 0) {
                setFlags(at, f & ~SACKED);
            }
        }
        sackedBytes = 0;
        sackedSegments = 0;
        highestSacked = count == 0 ? highestSacked : start(0);
    }
}
