"""A minimal, fast SMTP sink: accepts every message and throws it away.

Used by benchmarks/throughput.py when Postfix's ``smtp-sink`` is not installed. It is a
plain asyncio Protocol (no aiosmtpd, no per-line coroutines), so it costs little CPU
next to the client being measured. It answers EHLO/HELO/MAIL/RCPT/DATA/RSET/NOOP/QUIT,
announces PIPELINING and handles any number of commands arriving in one read, in order.

    python benchmarks/sink.py [--host 127.0.0.1] [--port 0]

It prints ``listening <host> <port>`` once it accepts connections, and a count of the
messages received when it is stopped (SIGTERM or SIGINT).
"""

import argparse
import asyncio
import signal
import sys

EHLO_REPLY = (
    b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    b"250-SIZE 104857600\r\n250 ENHANCEDSTATUSCODES\r\n"
)
END_OF_DATA = b"\r\n.\r\n"
MAX_LINE = 4096


class Stats:
    messages = 0


class SinkProtocol(asyncio.Protocol):
    """One SMTP session. Replies to a whole read are written at once (pipelining)."""

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data):
        self.buffer += data
        replies = []
        while self.buffer and not self.transport.is_closing():
            if not (self._data(replies) if self.in_data else self._command(replies)):
                break
        if replies:
            self.transport.write(b"".join(replies))

    def _data(self, replies):
        """Discard message data up to the final "<CRLF>.<CRLF>"; False when incomplete."""
        end = self.buffer.find(END_OF_DATA)
        if end < 0:
            self.buffer = self.buffer[-(len(END_OF_DATA) - 1):]  # a terminator may straddle reads
            return False
        self.buffer = self.buffer[end + len(END_OF_DATA):]
        self.in_data = False
        Stats.messages += 1
        replies.append(b"250 2.0.0 Ok: queued\r\n")
        return True

    def _command(self, replies):
        """Answer one command line; False when no complete line is buffered yet."""
        end = self.buffer.find(b"\n")
        if end < 0:
            if len(self.buffer) > MAX_LINE:
                replies.append(b"500 5.5.2 Line too long\r\n")
                self.buffer = b""
            return False
        line, self.buffer = self.buffer[:end].rstrip(b"\r"), self.buffer[end + 1:]
        verb = line[:4].upper()
        if verb == b"EHLO":
            replies.append(EHLO_REPLY)
        elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
            replies.append(b"250 2.0.0 Ok\r\n")
        elif verb == b"DATA":
            replies.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            self.in_data = True
            # The body may be empty: its terminator then follows DATA's own CRLF.
            self.buffer = b"\r\n" + self.buffer
        elif verb == b"QUIT":
            replies.append(b"221 2.0.0 Bye\r\n")
            self.transport.write(b"".join(replies))
            replies.clear()
            self.transport.close()
        else:
            replies.append(b"502 5.5.2 Command not recognised\r\n")
        return True


async def serve(host, port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(SinkProtocol, host, port, backlog=256)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    bound = server.sockets[0].getsockname()
    print(f"listening {bound[0]} {bound[1]}", flush=True)
    async with server:
        await stop.wait()
    print(f"sink.py: received {Stats.messages} messages", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
