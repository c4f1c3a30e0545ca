"""The child process that downloads a Hub model into the HF cache: `python -m core.models.download_worker`.

It runs apart from the app because the app is offline by default and huggingface_hub
reads HF_HUB_OFFLINE and HF_ENDPOINT once, at import. Protocol (JSON lines):
stdin gets one request {hub_id, revision, token, cache_dir, files}; stdout reports
{"event": "plan"}, then waits for "go" on stdin (the parent checks disk space), then
{"event": "progress"}... and {"event": "done"} or {"event": "error", "kind", "message"}.

Each file goes to blobs/<etag>.incomplete under a fixed name, so the next download after
a cancel (kill) or a lost connection continues it with an HTTP Range request;
huggingface_hub 2.x's own downloader restarts such a file from zero, which can lose
hours on a 5 GB shard. huggingface_hub still resolves the revision, lists the files and
links the finished blobs into snapshots/, so the cache stays the one it reads.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
import time
from pathlib import Path

CHUNK = 64 * 1024  # small enough that a kill loses little and progress moves
REPORT_EVERY_S = 0.1
# Formats the trainer never loads; with safetensors present, pickle and originals too.
NEVER = ("*.gguf", "*.onnx", "*.onnx_data", "*.msgpack", "*.h5", "*.tflite", "*.ot", "*.mlmodel")
DUPLICATES_OF_SAFETENSORS = ("*.bin", "*.pt", "*.pth", "original/*", "*.ckpt")


class Refused(Exception):
    """Stopped before fetching anything, for a reason the parent explains (`kind`)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def choose_files(paths: list[str], only: list[str] | None) -> list[str]:
    if only:
        return [p for p in paths if any(fnmatch.fnmatch(p, pattern) for pattern in only)]
    skip = list(NEVER)
    if any(p.endswith(".safetensors") for p in paths):
        skip += DUPLICATES_OF_SAFETENSORS
    return [p for p in paths if not any(fnmatch.fnmatch(p, pattern) for pattern in skip)]


def _write_ref(storage: Path, revision: str, commit: str) -> None:
    if revision == commit:
        return
    ref = storage / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    tmp = ref.with_name(ref.name + f".{os.getpid()}.tmp")
    tmp.write_text(commit, encoding="utf-8")
    os.replace(tmp, ref)


def _fetch_blob(url: str, headers: dict, partial: Path, size: int | None, on_bytes) -> None:
    """GET url into `partial`, continuing from its current length with a Range request."""
    # huggingface_hub is heavy: loaded on a hub call only
    from huggingface_hub.utils import get_session

    have = partial.stat().st_size if partial.exists() else 0
    if size is not None and have == size:
        return
    if size is not None and have > size:
        partial.unlink()
        have = 0
    request_headers = {**headers, "Accept-Encoding": "identity"}
    if have:
        request_headers["Range"] = f"bytes={have}-"
    with get_session().stream(
        "GET", url, headers=request_headers, follow_redirects=True, timeout=30
    ) as response:
        if response.status_code == 416:  # already complete
            return
        response.raise_for_status()
        mode = "ab"
        if have and response.status_code == 200:  # the server ignored Range: start over
            mode, have = "wb", 0
            on_bytes(None)
        with partial.open(mode) as out:
            for chunk in response.iter_bytes(CHUNK):
                out.write(chunk)
                out.flush()  # what arrived is on disk if Cancel kills this process
                on_bytes(len(chunk))
    got = partial.stat().st_size
    if size is not None and got != size:
        raise OSError(f"{partial.name}: got {got} bytes, expected {size}; download again")


def run(request: dict) -> None:
    # huggingface_hub is heavy: loaded on a hub call only
    from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_download, hf_hub_url

    # huggingface_hub is heavy: loaded on a hub call only
    from huggingface_hub.hf_api import RepoFile

    # huggingface_hub is heavy: loaded on a hub call only
    from huggingface_hub.utils import build_hf_headers

    hub_id = request["hub_id"]
    revision = request.get("revision") or "main"
    token = request.get("token") or None
    cache_dir = Path(request["cache_dir"])
    storage = cache_dir / ("models--" + hub_id.replace("/", "--"))

    api = HfApi(token=token)
    info = api.model_info(hub_id, revision=revision, token=token)
    commit = info.sha
    if info.gated and not token:  # the Hub shows a gated repo's file list, not its files
        raise Refused("gated", f"{hub_id} is gated and no access token was given")
    tree = {
        f.path: f.size
        for f in api.list_repo_tree(hub_id, recursive=True, revision=commit, token=token)
        if isinstance(f, RepoFile)
    }
    files = choose_files(sorted(tree), request.get("files"))
    if not files:
        raise FileNotFoundError(f"{hub_id} has none of the files asked for ({request['files']})")
    snapshot = storage / "snapshots" / commit
    present = {f for f in files if (snapshot / f).exists()}
    total = sum(tree[f] or 0 for f in files)
    have = sum(tree[f] or 0 for f in present)
    partial_bytes = sum(p.stat().st_size for p in (storage / "blobs").glob("*.incomplete"))
    emit(
        "plan",
        commit=commit,
        files=len(files),
        total_bytes=total,
        needed_bytes=max(0, total - have - partial_bytes),
        gated=bool(getattr(info, "gated", False)),
    )
    if sys.stdin.readline().strip() != "go":
        return
    headers = build_hf_headers(token=token)
    done = have
    last = 0.0

    def on_bytes(n: int | None, name: str) -> None:
        nonlocal done, last
        if n is None:  # restarted from zero
            return
        done += n
        now = time.monotonic()
        if now - last >= REPORT_EVERY_S:
            last = now
            emit("progress", done_bytes=done, total_bytes=total, file=name)

    for name in files:
        if name in present:
            continue
        emit("progress", done_bytes=done, total_bytes=total, file=name)
        meta = get_hf_file_metadata(hf_hub_url(hub_id, name, revision=commit), token=token)
        blob = storage / "blobs" / meta.etag
        if not blob.exists():
            blob.parent.mkdir(parents=True, exist_ok=True)
            partial = blob.with_name(blob.name + ".incomplete")
            if partial.exists():
                done += partial.stat().st_size
            _fetch_blob(
                meta.location, headers, partial, meta.size, lambda n, f=name: on_bytes(n, f)
            )
            os.replace(partial, blob)
        else:
            done += tree[name] or 0
        # The blob is in place, so this only links snapshots/<commit>/<name> to it.
        hf_hub_download(hub_id, name, revision=commit, cache_dir=str(cache_dir), token=token)
    _write_ref(storage, revision, commit)
    emit("progress", done_bytes=total, total_bytes=total, file="")
    emit("done", path=str(snapshot), commit=commit, total=total)


def _error_kind(error: BaseException) -> str:
    # huggingface_hub is heavy: loaded on a hub call only
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(error, Refused):
        return error.kind
    if isinstance(error, GatedRepoError):
        return "gated"
    if isinstance(error, RevisionNotFoundError):
        return "revision"
    if isinstance(error, RepositoryNotFoundError):
        return "not_found"
    if isinstance(error, HfHubHTTPError):
        status = getattr(error.response, "status_code", None)
        return "auth" if status in (401, 403) else "http"
    if isinstance(error, OSError) and "No space left" in str(error):
        return "disk"
    if type(error).__module__.startswith(("httpx", "httpcore")):
        return "connection"
    return "other"


def main() -> int:
    request = json.loads(sys.stdin.readline())
    try:
        run(request)
    except Exception as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        emit("error", kind=_error_kind(error), message=first_line)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
