"""A Hugging Face Hub stand-in on 127.0.0.1 for download tests (HF_ENDPOINT points at it).

It serves model folders the way the Hub does for huggingface_hub 2.x's snapshot path:
GET /api/models/{id}/revision/{rev}, GET /api/models/{id}/tree/{rev}, and HEAD/GET
/{id}/resolve/{rev}/{file} with X-Repo-Commit, ETag, Content-Length and Range requests
(206). A gated repo's files answer 401 with X-Error-Code: GatedRepo unless the right
token comes; its info and file list stay public, as on the Hub.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS_SUFFIXES = (".safetensors", ".bin")


@dataclass
class FakeRepo:
    folder: Path
    commit: str = COMMIT
    gated_token: str | None = None  # when set, only this bearer token may read the repo

    def files(self) -> dict[str, Path]:
        return {
            p.relative_to(self.folder).as_posix(): p
            for p in sorted(self.folder.rglob("*"))
            if p.is_file()
        }


@dataclass
class FakeHub:
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    bytes_per_second: float | None = None  # throttles file bodies, so a test can cancel mid-file
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, Range
    bodies: list[tuple[str, int, int]] = field(default_factory=list)  # file, start, bytes sent
    server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_HEAD(self):
                hub._answer(self, body=False)

            def do_GET(self):
                hub._answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # --- answering -------------------------------------------------------------------
    def _send_json(self, handler, status: int, data, headers=None) -> None:
        payload = json.dumps(data).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(payload)

    def _error(self, handler, status: int, code: str, message: str) -> None:
        self._send_json(
            handler,
            status,
            {"error": message},
            {"X-Error-Code": code, "X-Error-Message": message},
        )

    def _find_repo(self, parts: list[str]) -> tuple[str, FakeRepo, list[str]] | None:
        for cut in (2, 1):
            repo_id = "/".join(parts[:cut])
            if repo_id in self.repos:
                return repo_id, self.repos[repo_id], parts[cut:]
        return None

    def _answer(self, handler, body: bool) -> None:
        url = urlparse(handler.path)
        self.requests.append((handler.command, url.path, handler.headers.get("Range", "")))
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        api = parts[:2] == ["api", "models"]
        found = self._find_repo(parts[2:] if api else parts)
        if found is None:
            self._error(handler, 404, "RepoNotFound", "Repository not found")
            return
        repo_id, repo, rest = found
        # As on the Hub, a gated repo's info and file list are public; its files are not.
        if repo.gated_token is not None and not api:
            auth = handler.headers.get("Authorization", "")
            if auth != f"Bearer {repo.gated_token}":
                self._error(
                    handler,
                    401,
                    "GatedRepo",
                    f"Access to model {repo_id} is restricted. You must have access to it "
                    "and be authenticated to access it. Please log in.",
                )
                return
        if api and rest[:1] == ["revision"]:
            self._send_json(
                handler,
                200,
                {
                    "id": repo_id,
                    "sha": repo.commit,
                    "private": False,
                    "gated": "manual" if repo.gated_token else False,
                    "siblings": [{"rfilename": name} for name in repo.files()],
                },
            )
        elif api and rest[:1] == ["tree"]:
            self._send_json(handler, 200, [self._tree_entry(n, p) for n, p in repo.files().items()])
        elif not api and rest[:1] == ["resolve"] and len(rest) >= 3:
            name = "/".join(rest[2:])
            path = repo.files().get(name)
            if path is None:
                self._error(handler, 404, "EntryNotFound", f"{name} does not exist")
                return
            self._send_file(handler, repo, name, path, body)
        else:
            self._error(handler, 404, "EntryNotFound", f"no route {url.path}")

    def _tree_entry(self, name: str, path: Path) -> dict:
        data = path.read_bytes()
        entry = {
            "type": "file",
            "path": name,
            "size": len(data),
            "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
        }
        if name.endswith(LFS_SUFFIXES):
            entry["lfs"] = {
                "oid": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "pointerSize": 134,
            }
        return entry

    def _send_file(self, handler, repo: FakeRepo, name: str, path: Path, body: bool) -> None:
        data = path.read_bytes()
        entry = self._tree_entry(name, path)
        etag = entry["lfs"]["oid"] if "lfs" in entry else entry["oid"]
        start, status = 0, 200
        wanted = handler.headers.get("Range", "")
        if wanted.startswith("bytes="):
            start = int(wanted[len("bytes=") :].split("-")[0] or 0)
            if start >= len(data):
                handler.send_response(416)
                handler.send_header("Content-Range", f"bytes */{len(data)}")
                handler.end_headers()
                return
            status = 206
        chunk = data[start:]
        handler.send_response(status)
        handler.send_header("X-Repo-Commit", repo.commit)
        handler.send_header("ETag", f'"{etag}"')
        if "lfs" in entry:
            handler.send_header("X-Linked-Etag", f'"{etag}"')
            handler.send_header("X-Linked-Size", str(len(data)))
        handler.send_header("Accept-Ranges", "bytes")
        handler.send_header("Content-Length", str(len(chunk)))
        if status == 206:
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        handler.end_headers()
        if not body:
            return
        step, sent = 8192, 0
        try:
            for offset in range(0, len(chunk), step):
                piece = chunk[offset : offset + step]
                handler.wfile.write(piece)
                sent += len(piece)
                if self.bytes_per_second:
                    time.sleep(len(piece) / self.bytes_per_second)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client was killed (Cancel): exactly what the resume test does
        finally:
            self.bodies.append((name, start, sent))
