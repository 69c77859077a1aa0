"""Greedy and slow clients for benches/scripts/server-limits (standard library only).

Usage: server_limits_clients.py PORT
Sends ten concurrent unauthenticated key uploads of 47 MiB with a declared length, then ten
chunked ones (no declared length), and prints each answer's status line; then opens a
connection whose headers never finish and prints how long the server keeps it open.
"""
import socket
import sys
import threading
import time

PORT = int(sys.argv[1])
BLOCK = b"k" * (1 << 20)
HEAD = b"POST /v1/keys/upload HTTP/1.1\r\nHost: carnet\r\nContent-Type: application/json\r\n"


def upload(chunked, answers, index):
    stream = socket.create_connection(("127.0.0.1", PORT))
    if chunked:
        stream.sendall(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
    else:
        stream.sendall(HEAD + b"Content-Length: %d\r\n\r\n" % (47 << 20))
    try:
        for _ in range(47):
            stream.sendall(b"100000\r\n" + BLOCK + b"\r\n" if chunked else BLOCK)
    except OSError:
        pass  # the server refused and closed: what is wanted
    stream.settimeout(10)
    try:
        answers[index] = stream.recv(64).split(b"\r\n")[0].decode() or "closed"
    except OSError as error:
        answers[index] = "closed (%s)" % error.__class__.__name__


for chunked in (False, True):
    answers = [None] * 10
    threads = [threading.Thread(target=upload, args=(chunked, answers, i)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kind = "chunked" if chunked else "declared length"
    for answer in sorted(set(answers)):
        print("%s uploads: %d x %s" % (kind, answers.count(answer), answer))

stalled = socket.create_connection(("127.0.0.1", PORT))
stalled.sendall(b"GET /v1/health HTTP/1.1\r\nHost: car")
started = time.monotonic()
stalled.settimeout(120)
try:
    stalled.recv(1)
except OSError:
    pass
print("stalled connection closed after %.2f s" % (time.monotonic() - started))
