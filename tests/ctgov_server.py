"""A local stand-in for the ClinicalTrials.gov API v2, on 127.0.0.1, for testing the HTTP client.

It serves GET /api/v2/studies/<NCT number> from a folder of study JSON files (404 for any other),
and can be told to answer a study's next requests otherwise: an HTTP status with headers and a body,
or a delay longer than the client's timeout.

    with CtgovServer(DATA_DIR) as server:
        server.script("NCT00763412", Reply(429, {"Retry-After": "7"}), Reply(500))
        CtgovClient(server.url).fetch_study("NCT00763412")
"""

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Reply:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes | None = None  # None: the study's record for 200, a small JSON error otherwise
    delay: float = 0.0  # seconds before answering (longer than the client's timeout: a timeout)


class CtgovServer:
    def __init__(self, records_dir):
        self.records = {path.stem: path.read_bytes() for path in Path(records_dir).glob("NCT*.json")}
        self.scripts = {}
        self.requests = []  # the paths asked for, in order
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self):
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/api/v2"

    def script(self, nct_id, *replies):
        """The next requests for `nct_id` get these replies, in order; then the record again."""
        with self._lock:
            self.scripts.setdefault(nct_id, []).extend(replies)

    def next_reply(self, nct_id):
        with self._lock:
            queue = self.scripts.get(nct_id)
            return queue.pop(0) if queue else Reply()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                path = self.path.split("?")[0]
                prefix = "/api/v2/studies/"
                nct_id = path[len(prefix) :] if path.startswith(prefix) else ""
                reply = server.next_reply(nct_id)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body
                status = reply.status
                if body is None:
                    if status == 200 and nct_id in server.records:
                        body = server.records[nct_id]
                    elif status == 200:
                        status, body = 404, json.dumps({"message": f"Study {nct_id} not found"}).encode()
                    else:
                        body = json.dumps({"message": f"HTTP {status}"}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args):
                pass  # quiet tests

        return Handler


class SilentServer:
    """An API that accepts connections and never answers (a hung server), on 127.0.0.1: for deadlines.

    with SilentServer() as server:
        CtgovClient(server.url).fetch_study("NCT00763412")  # waits for its timeout
    """

    def __init__(self):
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self.connections = []  # held open, never read from nor written to
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self):
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}/api/v2"

    def _accept(self):
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(connection)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for connection in self.connections:
            connection.close()
