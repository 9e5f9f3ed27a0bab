"""A TCP proxy in front of a lab host's libvirtd that loses one answer on purpose.

Put between a migration's source and its destination (``dest_uri`` pointing at the proxy), it
forwards libvirt's RPC messages both ways and reads their headers.  When the destination
answers the call named by ``lose_reply_to`` (by default the finish step of a peer-to-peer
migration, REMOTE_PROC_DOMAIN_MIGRATE_FINISH3_PARAMS: the destination has just started the
guest), that answer is thrown away and both sides of the connection are closed, as when a
network link dies at that very moment.  Afterwards new connections are refused
(``heal=False``: the destination stays unreachable) or forwarded again (``heal=True``).

It runs in threads of the test process and listens on 127.0.0.1 only.
"""
import socket
import struct
import threading

# libvirt's remote protocol (src/remote/remote_protocol.x, a stable ABI): the program number and the procedures of a
# v3 migration with parameters
REMOTE_PROGRAM = 0x20008086
PREPARE3_PARAMS, PERFORM3_PARAMS, FINISH3_PARAMS, CONFIRM3_PARAMS = 303, 305, 306, 307
CALL, REPLY = 0, 1
_HEADER = struct.Struct('>IIIIIII')        # length, program, version, procedure, type, serial, status


class _Messages:
    """Splits a byte stream into libvirt RPC messages (each starts with its own length)."""

    def __init__(self):
        self.buffer = b''

    def feed(self, data):
        self.buffer += data
        while len(self.buffer) >= 4:
            length = struct.unpack('>I', self.buffer[:4])[0]
            if length < _HEADER.size or len(self.buffer) < length:
                return
            message, self.buffer = self.buffer[:length], self.buffer[length:]
            yield message, _HEADER.unpack(message[:_HEADER.size])


class FaultProxy:
    def __init__(self, upstream_port, lose_reply_to=FINISH3_PARAMS, heal=False):
        self.upstream_port = upstream_port
        self.lose_reply_to = lose_reply_to
        self.heal = heal
        self.lost = threading.Event()          # set once the answer was thrown away
        self.calls = []                        # (procedure, serial) of every call seen, for the test's messages
        self._lock = threading.Lock()
        self._sockets = set()
        self._closed = False
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(('127.0.0.1', 0))
        self._server.listen(16)
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def uri(self):
        return 'qemu+tcp://127.0.0.1:%d/system' % self.port

    def close(self):
        self._closed = True
        try:
            self._server.close()
        except OSError:
            pass
        self._close_all()

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()

    # ---------------------------------------------------------------- internals

    def _close_all(self):
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            for how in (lambda s: s.shutdown(socket.SHUT_RDWR), lambda s: s.close()):
                try:
                    how(sock)
                except OSError:
                    pass

    def _accept(self):
        while not self._closed:
            try:
                client, _addr = self._server.accept()
            except OSError:
                return
            if self.lost.is_set() and not self.heal:
                client.close()          # the destination stays unreachable
                continue
            try:
                upstream = socket.create_connection(('127.0.0.1', self.upstream_port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            watched = not self.lost.is_set()
            threading.Thread(target=self._pump, args=(client, upstream, False, watched), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True, watched), daemon=True).start()

    def _pump(self, src, dst, answers, watched):
        messages = _Messages()
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if watched and not self._inspect(messages, data, answers):
                    self.lost.set()
                    self._close_all()
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _inspect(self, messages, data, answers):
        """False when ``data`` holds the answer to lose (nothing of it is forwarded then)."""
        for _message, (_length, program, _vers, proc, kind, serial, _status) in messages.feed(data):
            if program != REMOTE_PROGRAM:
                continue                # keepalive pings
            if not answers and kind == CALL:
                self.calls.append((proc, serial))
            if answers and kind == REPLY and proc == self.lose_reply_to:
                return False
        return True
