/**
 * The Winsock Kernel shape over the stack's TCP: {@link io.fastpath.wsk.WskProvider} (WskRegister, WskSocket,
 * WskSocketConnect, WskRelease), {@link io.fastpath.wsk.WskSocket} (WskBind, WskListen, WskAccept, WskConnect,
 * WskConnectEx, WskSend, WskReceive, WskDisconnect, WskCloseSocket, WskGetLocalAddress, WskGetRemoteAddress,
 * WskControlSocket), caller-owned reusable {@link io.fastpath.wsk.Irp}s with completion routines, and the
 * accept, receive (zero-copy data indications) and disconnect event callbacks. See docs/api-wsk.md.
 */
package io.fastpath.wsk;
