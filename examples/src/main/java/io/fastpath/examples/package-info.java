/** Examples: WSK (io.fastpath.examples.wsk), TDI (.tdi) and NDK (.ndk) clients and servers. */
package io.fastpath.examples;
