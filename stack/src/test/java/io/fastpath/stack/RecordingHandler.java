package io.fastpath.stack;

import java.util.ArrayList;
import java.util.List;

/** Collects stack events for assertions. */
final class RecordingHandler implements StackEventHandler {
    final List<Integer> replies = new ArrayList<>();
    final List<Long> rtts = new ArrayList<>();
    final List<int[]> failures = new ArrayList<>();

    @Override
    public void onEchoReply(int from, int sequence, long roundTripNs) {
        replies.add(sequence);
        rtts.add(roundTripNs);
    }

    @Override
    public void onSendFailed(int destination, int sequence, int status) {
        failures.add(new int[] {destination, sequence, status});
    }
}
