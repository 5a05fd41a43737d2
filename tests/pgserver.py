"""A PostgreSQL server of a test's own: initdb into a temporary folder, started on a free port of 127.0.0.1, so
that a test can stop, freeze (SIGSTOP) and thaw it without touching the shared server on port 5432.

Uses Debian's binaries (/usr/lib/postgresql/<version>/bin, the newest there). PostgreSQL refuses to run as
root: as root, initdb and the server run as the `postgres` user.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

BIN_ROOT = Path("/usr/lib/postgresql")


def binaries():
    """The folder of the newest installed PostgreSQL's programs, or None."""
    versions = sorted(BIN_ROOT.glob("*/bin/initdb"), key=lambda path: int(path.parent.parent.name))
    return versions[-1].parent if versions else None


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self):
        self.bin = binaries()
        if self.bin is None:
            raise RuntimeError(f"PostgreSQL's programs are not installed under {BIN_ROOT} (apt-get install postgresql)")
        # As root, the server's processes are the postgres user's, children of this process (no runuser between).
        self.as_user = {"user": "postgres", "group": "postgres", "extra_groups": []} if os.geteuid() == 0 else {}
        self.folder = Path(tempfile.mkdtemp(prefix="registry-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.process = None
        self.log = self.folder / "server.log"

    def _run(self, *args):
        subprocess.run(args, check=True, capture_output=True, stdin=subprocess.DEVNULL, **self.as_user)

    def start(self):
        if self.as_user:
            os.chmod(self.folder, 0o755)
            shutil.chown(self.folder, "postgres", "postgres")
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.process = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port)]
            + ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.folder}", "-c", "fsync=off"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            **self.as_user,
        )
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(psycopg.OperationalError), psycopg.connect(self.url, connect_timeout=2):
                return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start on port {self.port}")
            time.sleep(0.2)

    def pids(self):
        """The postmaster and every process it started (backends, checkpointer, ...)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True)
        return [postmaster, *(int(pid) for pid in children.stdout.split())]

    def freeze(self):
        """Stop every process of the server: the postmaster first, so that it starts no more."""
        os.kill(self.pids()[0], signal.SIGSTOP)
        for pid in self.pids()[1:]:
            with contextlib.suppress(ProcessLookupError):  # a backend that was just ending
                os.kill(pid, signal.SIGSTOP)

    def thaw(self):
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def stop(self):
        """Stop the server (fast shutdown) and remove its files."""
        if self.process and self.process.poll() is None:
            self.thaw()
            with contextlib.suppress(OSError, ValueError):
                os.kill(int((self.data / "postmaster.pid").read_text().split()[0]), signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def postgres_server():
    server = Server()
    try:
        yield server.start()
    finally:
        server.stop()
