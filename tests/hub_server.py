"""A loopback HTTP server that answers like the Hugging Face Hub's file endpoints, plus mirrors.

``HEAD``/``GET /{repo_id}/resolve/{revision}/{filename}`` answer with the headers
``huggingface_hub.hf_hub_download`` reads: ``X-Repo-Commit``, ``ETag`` and ``Content-Length``
for a regular file; for an LFS file a ``302`` redirect to a "CDN" host (``localhost`` instead of
``127.0.0.1``, so the client treats it as another origin, as it does the real CDN) carrying
``X-Linked-Etag`` and ``X-Linked-Size``. Errors use the Hub's ``X-Error-Code`` header.
``GET /mirror/{name}`` serves plain mirror files. Every request is logged in ``requests``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class _Repo:
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (commit, filename) -> bytes
    refs: dict[str, str] = field(default_factory=dict)  # branch -> commit


class HubServer:
    """Start with ``with HubServer() as hub:``; ``hub.url`` is the ``HF_ENDPOINT`` to use.

    Attributes:
        fail_status: When set, every Hub request (not mirrors) is answered with this status.
        lfs: Serve Hub files as LFS (redirect to the CDN host) rather than directly.
        body_delay: Seconds to wait before sending a file body (to make downloads overlap).
        requests: ``(method, path)`` of every request received, in order.
    """

    def __init__(self) -> None:
        self.repos: dict[str, _Repo] = {}
        self.mirror: dict[str, bytes] = {}
        self.blobs: dict[str, bytes] = {}
        self.fail_status: int | None = None
        self.lfs = True
        self.body_delay = 0.0
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- content ---------------------------------------------------------------------------
    def add_file(self, repo_id: str, filename: str, data: bytes, *, branch: str | None = "main") -> str:
        """Commit ``data`` as ``filename``; returns the new 40-hex commit id."""
        repo = self.repos.setdefault(repo_id, _Repo())
        commit = hashlib.sha1(repo_id.encode() + filename.encode() + data + str(len(repo.files)).encode()).hexdigest()
        repo.files[(commit, filename)] = data
        if branch is not None:
            repo.refs[branch] = commit
        self.blobs[hashlib.sha256(data).hexdigest()] = data
        return commit

    def add_mirror(self, name: str, data: bytes) -> str:
        self.mirror[name] = data
        return f"{self.cdn_url}/mirror/{name}"

    def count(self, method: str, prefix: str) -> int:
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and p.startswith(prefix))

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cdn_url(self) -> str:
        return f"http://localhost:{self.port}"

    def start(self) -> HubServer:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                hub._answer(self, body=False)

            def do_GET(self) -> None:
                hub._answer(self, body=True)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answers ---------------------------------------------------------------------------
    def _answer(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        path = h.path.split("?", 1)[0]
        with self._lock:
            self.requests.append((h.command, path))
        if path.startswith("/mirror/"):
            data = self.mirror.get(path[len("/mirror/") :])
            return self._send(h, 200, data, {}, body) if data is not None else self._send(h, 404, b"", {}, body)
        if path.startswith("/cdn/"):
            data = self.blobs.get(path[len("/cdn/") :])
            return self._send(h, 200, data, {}, body) if data is not None else self._send(h, 404, b"", {}, body)
        if self.fail_status is not None:
            return self._send(h, self.fail_status, b"server error", {}, body)
        parts = path.lstrip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return self._send(h, 404, b"", {}, body)
        repo_id, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        repo = self.repos.get(repo_id)
        if repo is None:
            return self._send(h, 401, b"", {"X-Error-Code": "RepoNotFound"}, body)
        commit = revision if any(c == revision for c, _ in repo.files) else repo.refs.get(revision)
        if commit is None:
            return self._send(h, 404, b"", {"X-Error-Code": "RevisionNotFound"}, body)
        data = repo.files.get((commit, filename))
        if data is None:
            return self._send(h, 404, b"", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit}, body)
        sha = hashlib.sha256(data).hexdigest()
        if self.lfs:
            headers = {
                "Location": f"{self.cdn_url}/cdn/{sha}",
                "X-Repo-Commit": commit,
                "X-Linked-Etag": f'"{sha}"',
                "X-Linked-Size": str(len(data)),
                "ETag": f'"{hashlib.sha1(data).hexdigest()}"',
            }
            return self._send(h, 302, b"", headers, body)
        headers = {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha1(data).hexdigest()}"'}
        return self._send(h, 200, data, headers, body)

    def _send(self, h: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str], body: bool) -> None:
        if body and data and status == 200 and self.body_delay:
            time.sleep(self.body_delay)
        h.send_response(status)
        for key, value in headers.items():
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if body and data:
            h.wfile.write(data)
