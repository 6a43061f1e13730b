/**
 * NDK-shaped connection management over MPA v2 (RFC 5044, RFC 6581) on fastpath TCP (issue #6).
 *
 * <p>Start at {@link io.fastpath.ndk.NdkAdapter} (NdkOpenAdapter: the dispatch model and threads), then
 * {@link io.fastpath.ndk.NdkListener}, {@link io.fastpath.ndk.NdkConnector} (the connection sequence and every
 * status) and {@link io.fastpath.ndk.NdkQp} (messages as MPA FPDUs). {@link io.fastpath.ndk.MpaFrame} is the
 * wire format. docs/api-ndk.md maps every NDK call and status to its Java form.
 */
package io.fastpath.ndk;
