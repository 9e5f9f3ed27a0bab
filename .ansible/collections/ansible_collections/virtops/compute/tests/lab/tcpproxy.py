"""A small TCP -> unix socket forwarder, so the main host answers on
qemu+tcp://127.0.0.1:16509/system (migration back from a lab host) without
restarting a libvirtd that other people use.

  python -m lab.tcpproxy 127.0.0.1:16509 /run/libvirt/libvirt-sock --pidfile FILE

It listens on 127.0.0.1 only; every connection is a fresh connection to the unix
socket, made by this (root) process, so libvirtd grants it what it grants local root.
"""
import argparse
import os
import signal
import socket
import sys
import threading


def _pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _serve(client, unix_path):
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(unix_path)
    except OSError:
        client.close()
        upstream.close()
        return
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m lab.tcpproxy')
    parser.add_argument('listen', help='HOST:PORT (127.0.0.1 only)')
    parser.add_argument('unix_socket')
    parser.add_argument('--pidfile', required=True)
    args = parser.parse_args(argv)
    host, port = args.listen.rsplit(':', 1)
    if host != '127.0.0.1':
        parser.error('the lab forwards on 127.0.0.1 only')
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, int(port)))
    server.listen(64)
    with open(args.pidfile + '.tmp', 'w') as fh:
        fh.write('%d\n' % os.getpid())
    os.replace(args.pidfile + '.tmp', args.pidfile)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            client, _addr = server.accept()
            threading.Thread(target=_serve, args=(client, args.unix_socket), daemon=True).start()
    finally:
        server.close()
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass


if __name__ == '__main__':
    main()
