/**
 * TCP (RFC 9293) for one stack, on the poll thread: {@link io.fastpath.stack.tcp.TcpLayer} is the facade, its
 * parts hold one concern each (docs/tcp.md, "Code layout"), and {@link io.fastpath.stack.tcp.TcpService} offers
 * the same to other threads over rings. Packet memory and IPv4 output come from
 * {@link io.fastpath.stack.ip.IpOutput}; nothing here imports DPDK or reads a clock (time is a parameter).
 *
 * <p>Read first: RFC 9293 §3.10 (event processing: {@code TcpInput} follows its "segment arrives" order), then
 * RFC 5961 (blind attacks), RFC 7323 (window scale, timestamps, PAWS), RFC 2018 and RFC 6675 (SACK and
 * SACK-based recovery), RFC 6298 (RTO), RFC 5681 (congestion control), RFC 6528 (ISN), RFC 1337 and RFC 6191
 * (TIME-WAIT).
 *
 * <h2>Style for TCP tests</h2>
 * A behaviour of the state machine is tested on {@code TcpEndpointRig} (test sources): one endpoint on
 * {@code NativePackets} (no EAL, no port, no threads), the test playing the peer with exact segments, in
 * smoltcp's manner. Add the test to {@code TcpStateMachineTest}, in the nested class of the state it concerns
 * (one block per state, as RFC 9293 §3.10.7.4 is written), or to {@code TcpListenerTest} for LISTEN, SYN cookies
 * and Fast Open: {@code send} the peer's segment, {@code recv} the exact segments expected (or
 * {@code recvNothing}), {@code step} the clock for timers. Build segments from the templates
 * ({@code sendTempl()}, {@code recvTempl()}, {@code theirSyn()}, ...). Name the test for the behaviour and its
 * source ({@code retransmittedFinInCloseWaitIsAckedAgain_rfc9293_s3_10_7_4}); a test that shows a bug not yet
 * fixed carries {@code @Tag("needs-fix")} and says what the RFC and Linux do. Loss recovery has its own rig
 * ({@code TcpRig}, {@code LossRecoveryTest}); ring pairs and Linux peers are for what needs two stacks or a
 * real wire.
 */
package io.fastpath.stack.tcp;
