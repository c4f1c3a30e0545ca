"""Download a Hub model into the Hugging Face cache, only when the user asks for it.

The transfer runs in a child process (core.models.download_worker) whose environment
turns the app's offline mode off; this side reads its JSON-line reports, checks disk
space before any byte is fetched, reports progress, and kills the child on Cancel. The
partial file stays in the cache, and the next download of the same model continues it.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.models.hub_cache import HUB_ID, hub_cache_dir
from core.models.hub_token import find_token
from core.models.model_facts import human_size
from core.network_policy import online_environment

DEFAULT_ENDPOINT = "https://huggingface.co"
DISK_RESERVE_BYTES = 200_000_000  # never fill the disk to the last byte
POLL_S = 0.1

Progress = Callable[[float, str], None]


class DownloadError(Exception):
    """A download that did not happen, with what to do; `kind` says why (gated, disk, ...)."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


class DownloadCancelled(DownloadError):
    def __init__(self, hub_id: str) -> None:
        super().__init__(
            f"Download of {hub_id} cancelled; what was fetched is kept and the next download "
            "continues from there.",
            "cancelled",
        )


@dataclass(frozen=True)
class DownloadResult:
    hub_id: str
    revision: str  # the commit sha that was downloaded
    path: Path  # the snapshot folder in the HF cache
    total_bytes: int


def hub_endpoint(endpoint: str | None = None) -> str:
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _free_bytes(folder: Path) -> int:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _child_env(endpoint: str | None, cache_dir: Path) -> dict[str, str]:
    env = online_environment()  # the user asked for this download: the Hub reachable
    env["HF_HUB_CACHE"] = str(cache_dir)
    env["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if endpoint:
        env["HF_ENDPOINT"] = endpoint
    # The child imports core from wherever this process did (a checkout or the wheel).
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def _send(process: subprocess.Popen, line: str) -> None:
    try:
        process.stdin.write(line + "\n")
        process.stdin.flush()
    except (BrokenPipeError, OSError):
        pass  # the child has ended; its last report (or the missing one) says why


def _explain(kind: str, message: str, hub_id: str, revision: str, endpoint: str, token) -> str:
    if kind == "gated":
        if token:
            return (
                f"{hub_id} is gated and this token has no access: accept its terms on "
                f"{endpoint}/{hub_id} while logged in, then download again."
            )
        return (
            f"{hub_id} is gated: accept its terms on {endpoint}/{hub_id}, then give an access "
            "token (huggingface.co/settings/tokens) in the model picker or set HF_TOKEN."
        )
    if kind in ("not_found", "auth"):
        return (
            f"{hub_id} was not found on {endpoint}, or it is private: check the id, or give "
            "an access token that can read it."
        )
    if kind == "revision":
        return f"{hub_id} has no revision '{revision}' on {endpoint}: check the branch or commit."
    if kind == "connection":
        return (
            f"Cannot reach {endpoint} ({message}). Check the connection; what was fetched is "
            "kept and the next download continues from there."
        )
    if kind == "disk":
        return f"The disk filled up while downloading {hub_id} ({message}). Free some space."
    return f"Download of {hub_id} failed: {message}"


def download_model(
    hub_id: str,
    revision: str | None = None,
    *,
    token: str | None = None,
    endpoint: str | None = None,
    cache_dir: Path | None = None,
    files: list[str] | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> DownloadResult:
    """Fetch `hub_id` (all weights and tokenizer files, or only `files` patterns).

    The token defaults to the one the user stored (keyring) or huggingface_hub's
    (HF_TOKEN, `hf auth login`). Raises DownloadError with a one-line message.
    """
    hub_id = hub_id.strip()
    if not HUB_ID.match(hub_id):
        raise DownloadError(
            f"'{hub_id}' is not a Hugging Face model id: write it as org/name, "
            "for example HuggingFaceTB/SmolLM2-360M-Instruct.",
            "usage",
        )
    if token is None:
        token = find_token()
    report = progress or (lambda fraction, message: None)
    is_cancelled = cancelled or (lambda: False)
    cache_dir = cache_dir or hub_cache_dir()
    revision = revision or "main"
    shown_endpoint = hub_endpoint(endpoint)
    report(0.0, f"Asking {shown_endpoint} about {hub_id}")
    process = subprocess.Popen(
        [sys.executable, "-m", "core.models.download_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_child_env(endpoint, cache_dir),
    )
    events: queue.Queue = queue.Queue()
    stderr_tail: list[str] = []

    def read_stdout() -> None:
        try:
            for line in process.stdout:
                events.put(line)
        finally:
            events.put(None)

    def read_stderr() -> None:
        for line in process.stderr:
            stderr_tail[:] = [*stderr_tail[-19:], line.rstrip()]

    readers = [threading.Thread(target=f, daemon=True) for f in (read_stdout, read_stderr)]
    for reader in readers:
        reader.start()
    try:
        request = {"hub_id": hub_id, "revision": revision, "token": token, "files": files}
        _send(process, json.dumps({**request, "cache_dir": str(cache_dir)}))
        while True:
            if is_cancelled():
                raise DownloadCancelled(hub_id)
            try:
                line = events.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if line is None:
                process.wait()
                detail = next((s for s in reversed(stderr_tail) if s.strip()), "no message")
                raise DownloadError(
                    f"The download process for {hub_id} stopped unexpectedly ({detail})."
                )
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a library's stray print
            kind = event.get("event")
            if kind == "plan":
                needed = int(event["needed_bytes"])
                free = _free_bytes(cache_dir)
                if needed + DISK_RESERVE_BYTES > free:
                    raise DownloadError(
                        f"Not enough disk space for {hub_id}: it needs {human_size(needed)} and "
                        f"{cache_dir} has {human_size(free)} free. Free some space, or set "
                        "HF_HOME to a folder on a bigger disk.",
                        "disk",
                    )
                report(
                    0.0,
                    f"{hub_id}: {event['files']} files, {human_size(event['total_bytes'])} "
                    f"({human_size(needed)} to fetch, {human_size(free)} free)",
                )
                _send(process, "go")
            elif kind == "progress":
                total = max(int(event["total_bytes"]), 1)
                done = int(event["done_bytes"])
                name = event.get("file") or "done"
                report(
                    min(done / total, 1.0),
                    f"{name} · {human_size(done)} of {human_size(total)}",
                )
            elif kind == "done":
                process.wait(timeout=30)
                return DownloadResult(
                    hub_id, event["commit"], Path(event["path"]), int(event.get("total", 0))
                )
            elif kind == "error":
                error_kind = event.get("kind", "other")
                raise DownloadError(
                    _explain(error_kind, event["message"], hub_id, revision, shown_endpoint, token),
                    error_kind,
                )
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for reader in readers:
            reader.join(timeout=5)
        for stream in (process.stdin, process.stdout, process.stderr):
            try:
                stream.close()
            except OSError:
                pass
