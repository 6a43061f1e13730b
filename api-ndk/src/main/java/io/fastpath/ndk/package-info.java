/** NDK-shaped connection management over MPA v2 (RFC 5044, RFC 6581) on fastpath TCP. Issue #6. */
package io.fastpath.ndk;
