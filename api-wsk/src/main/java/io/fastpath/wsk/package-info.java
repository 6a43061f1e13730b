/**
 * The Winsock Kernel shape (WskSocket, WskConnectEx, receive events, IRPs) over the stack's TCP connection
 * API. Nothing is here yet: it is built on the TCP issue (see docs/status.md); the module exists so the layout
 * and build are in place from first light.
 */
package io.fastpath.wsk;
