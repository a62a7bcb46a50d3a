"""Finding a published weights file, verified: bundled -> local cache -> Hugging Face Hub -> mirrors.

:func:`resolve_weights` returns the path of a file whose size and sha256 equal the manifest's,
trying in order:

1. **bundled** inside the installed package (``skeletonzoo/weights/...``);
2. the **local cache** (:func:`cache_root`): the Hub's cache layout under ``CACHE/hub`` and
   mirror downloads under ``CACHE/mirrors/<sha256>/<filename>``;
3. the **Hugging Face Hub** through ``huggingface_hub.hf_hub_download`` at the commit the
   manifest pins (``HF_ENDPOINT`` is read at call time, so a mirror or a test server can
   stand in for huggingface.co);
4. **mirror URLs** through ``requests``: streamed to a temporary file while hashing, under a
   file lock so that concurrent processes download once, then renamed into place.

Nothing is loaded here; the caller loads the returned file (safetensors only, never pickle).
A file that fails verification is deleted from the cache (a bundled one is skipped and
reported) and the next source is tried. ``HF_HUB_OFFLINE=1`` or ``local_files_only=True``
stops at step 2.

The cache root is ``cache_dir`` when given, else ``$SKELETONZOO_CACHE``, else
``$HF_HOME/skeletonzoo`` (``HF_HOME`` defaulting to ``~/.cache/huggingface`` as in
huggingface_hub). ``skeletonzoo cache ls|verify|clear`` inspect it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ._files import CHUNK, sha256_file, umask
from ._version import __version__
from .exceptions import ChecksumError, DownloadError, OfflineError
from .manifest import PACKAGE_DIR, Manifest, PublishedWeights

__all__ = [
    "CACHE_ENV",
    "BUNDLED_ROOT",
    "cache_root",
    "existing_cache_root",
    "is_offline",
    "verify_file",
    "resolve_weights",
    "CachedFile",
    "list_cache",
    "verify_cache",
    "clear_cache",
]

CACHE_ENV = "SKELETONZOO_CACHE"
# Folder that manifest paths like ``weights/x.safetensors`` are relative to (the package).
BUNDLED_ROOT: Path = PACKAGE_DIR
_TIMEOUT = (10.0, 60.0)  # requests: connect, read (seconds)
_TRUE = {"1", "ON", "YES", "TRUE"}


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The cache folder: ``cache_dir``, ``$SKELETONZOO_CACHE`` or ``$HF_HOME/skeletonzoo``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache")), "huggingface"
    )
    return Path(os.path.expandvars(hf_home)).expanduser() / "skeletonzoo"


def is_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` is set (read now, not when huggingface_hub was imported)."""
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE


def verify_file(path: str | Path, weights: PublishedWeights) -> None:
    """Check ``path``'s size, then its sha256, against the manifest entry.

    Raises:
        ChecksumError: saying what differs.
    """
    size = os.path.getsize(path)
    if size != weights.size_bytes:
        raise ChecksumError(f"{path} has {size} bytes, the manifest says {weights.size_bytes} (truncated or replaced?)")
    digest = sha256_file(path)
    if digest != weights.sha256:
        raise ChecksumError(f"{path} has sha256 {digest}, the manifest says {weights.sha256}")


@dataclass
class _Attempt:
    source: str
    problem: str
    kind: Literal["checksum", "unreachable", "failed"]


def _hf_dir(root: Path) -> Path:
    return root / "hub"


def _mirror_path(root: Path, weights: PublishedWeights) -> Path:
    return root / "mirrors" / weights.sha256 / weights.filename


def _remove_hf_file(pointer: str | Path) -> None:
    """Delete a Hub-cache snapshot entry and the blob it links to."""
    blob = os.path.realpath(pointer)
    for path in {str(pointer), blob}:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _remove_cached(path: Path, source: str) -> None:
    if source == "huggingface":
        _remove_hf_file(path)
    else:
        path.unlink(missing_ok=True)


def _unreachable(exc: BaseException) -> bool:
    """Whether an error (or its causes) means no HTTP answer at all: network down, refused, timeout."""
    names = {"ConnectError", "ConnectTimeout", "ConnectionError", "TimeoutException", "ReadTimeout", "Timeout"}
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__name__ in names or isinstance(seen, (ConnectionError, TimeoutError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _describe(exc: BaseException) -> str:
    """One line for an error from huggingface_hub or requests, with the HTTP status if any."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            return f"HTTP {status}"
        seen = seen.__cause__ or seen.__context__
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _from_cache(root: Path, weights: PublishedWeights, attempts: list[_Attempt]) -> Path | None:
    candidates: list[tuple[str, Path]] = []
    mirror = _mirror_path(root, weights)
    if mirror.is_file():
        candidates.append(("mirror", mirror))
    hf = weights.sources.huggingface
    if hf is not None and _hf_dir(root).is_dir():
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(hf.repo_id, hf.filename, cache_dir=_hf_dir(root), revision=hf.revision)
        if isinstance(found, str):
            candidates.append(("huggingface", Path(found)))
    for kind, path in candidates:
        try:
            verify_file(path, weights)
            return path
        except ChecksumError as exc:
            # A bad cached copy is never used; remove it so the next download replaces it.
            _remove_cached(path, kind)
            attempts.append(_Attempt(f"cached copy {path}", f"{exc}; removed", "checksum"))
    return None


def _from_hub(root: Path, weights: PublishedWeights, attempts: list[_Attempt]) -> Path | None:
    hf = weights.sources.huggingface
    if hf is None:
        return None
    from huggingface_hub import hf_hub_download

    endpoint = os.environ.get("HF_ENDPOINT") or None
    where = f"Hugging Face Hub {hf.repo_id}@{hf.revision[:10]} ({endpoint or 'huggingface.co'})"
    try:
        path = hf_hub_download(
            hf.repo_id,
            hf.filename,
            revision=hf.revision,
            cache_dir=_hf_dir(root),
            endpoint=endpoint,
            library_name="skeletonzoo",
            library_version=__version__,
        )
    except Exception as exc:  # noqa: BLE001 - any failure of the library means "try the next source"
        attempts.append(_Attempt(where, _describe(exc), "unreachable" if _unreachable(exc) else "failed"))
        return None
    try:
        verify_file(path, weights)
    except ChecksumError as exc:
        _remove_hf_file(path)
        attempts.append(_Attempt(where, f"{exc}; the download was deleted", "checksum"))
        return None
    return Path(path)


def _download_url(url: str, dest: Path, weights: PublishedWeights, progress: bool) -> None:
    """Stream ``url`` to ``dest`` while hashing; ``dest`` appears only if size and sha256 match."""
    import requests
    from tqdm.auto import tqdm

    tmp_fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        digest, received = hashlib.sha256(), 0
        headers = {"User-Agent": f"skeletonzoo/{__version__}", "Accept-Encoding": "identity"}
        with os.fdopen(tmp_fd, "wb") as f, requests.get(url, stream=True, timeout=_TIMEOUT, headers=headers) as r:
            r.raise_for_status()
            with tqdm(
                total=weights.size_bytes,
                unit="B",
                unit_scale=True,
                desc=weights.filename,
                disable=not progress,
                leave=False,
            ) as bar:
                for chunk in r.iter_content(CHUNK):
                    received += len(chunk)
                    if received > weights.size_bytes:
                        raise ChecksumError(f"{url} sent more than the {weights.size_bytes} bytes the manifest says")
                    digest.update(chunk)
                    f.write(chunk)
                    bar.update(len(chunk))
        if received != weights.size_bytes:
            raise ChecksumError(f"{url} sent {received} bytes, the manifest says {weights.size_bytes} (truncated?)")
        if digest.hexdigest() != weights.sha256:
            raise ChecksumError(
                f"{url} sent a file with sha256 {digest.hexdigest()}, the manifest says {weights.sha256}"
            )
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _from_mirrors(root: Path, weights: PublishedWeights, attempts: list[_Attempt], progress: bool) -> Path | None:
    if not weights.sources.urls:
        return None
    import requests
    from filelock import FileLock

    dest = _mirror_path(root, weights)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # One download per file across processes: the others wait, then find it in place.
    with FileLock(str(dest.parent / f".{dest.name}.lock")):
        if dest.is_file():
            try:
                verify_file(dest, weights)
                return dest
            except ChecksumError:
                dest.unlink()
        for url in weights.sources.urls:
            try:
                _download_url(url, dest, weights, progress)
                return dest
            except ChecksumError as exc:
                attempts.append(_Attempt(url, f"{exc}; the download was deleted", "checksum"))
            except requests.RequestException as exc:
                kind: Literal["unreachable", "failed"] = "unreachable" if _unreachable(exc) else "failed"
                attempts.append(_Attempt(url, _describe(exc), kind))
    return None


def resolve_weights(
    weights: PublishedWeights,
    *,
    name: str = "",
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
    progress: bool | None = None,
) -> Path:
    """A verified local path of a published weights file (see the module docstring for the order).

    Args:
        weights: The manifest entry.
        name: Model name, for messages.
        cache_dir: Cache root (default :func:`cache_root`).
        local_files_only: Use only bundled and cached copies (as with ``HF_HUB_OFFLINE=1``).
        progress: Progress bar for mirror downloads; default when stderr is a terminal.

    Raises:
        OfflineError: offline (or no source reachable) and no verified copy bundled or cached.
        ChecksumError: every copy found failed verification (each was deleted, none loaded).
        DownloadError: every source failed for another reason (HTTP errors, missing files).
    """
    label = repr(name) if name else weights.filename
    root = cache_root(cache_dir)
    attempts: list[_Attempt] = []
    if weights.sources.bundled is not None:
        bundled = BUNDLED_ROOT / weights.sources.bundled
        if bundled.is_file():
            try:
                verify_file(bundled, weights)
                return bundled
            except ChecksumError as exc:
                attempts.append(_Attempt("bundled copy", f"{exc}; reinstall skeletonzoo", "checksum"))
    found = _from_cache(root, weights, attempts)
    if found is not None:
        return found
    offline = local_files_only or is_offline()
    networked = weights.sources.huggingface is not None or bool(weights.sources.urls)
    if offline or not networked:
        why = (
            "offline mode is on (HF_HUB_OFFLINE=1 or local_files_only=True)" if offline else "it has no download source"
        )
        bad = f" ({'; '.join(a.problem for a in attempts)})" if attempts else ""
        raise OfflineError(
            f"the weights of {label} ({weights.filename}) are not bundled or cached in {root}{bad}, and {why}. "
            "Run once with network access to cache them, or download the file yourself "
            f"(sha256 {weights.sha256}) and pass its path to skeletonzoo.load()."
        )
    if progress is None:
        progress = sys.stderr.isatty()
    found = _from_hub(root, weights, attempts) or _from_mirrors(root, weights, attempts, progress)
    if found is not None:
        return found
    tried = "; ".join(f"{a.source}: {a.problem}" for a in attempts)
    if any(a.kind == "checksum" for a in attempts):
        raise ChecksumError(
            f"no copy of the weights of {label} passed verification, so nothing was loaded ({tried}). "
            f"The manifest expects {weights.filename} with {weights.size_bytes} bytes and sha256 {weights.sha256}; "
            "a hosted copy is corrupted or truncated: retry later, or report it."
        )
    if attempts and all(a.kind == "unreachable" for a in attempts):
        raise OfflineError(
            f"could not reach any source for the weights of {label} and no copy is cached in {root} ({tried}). "
            "Check the network connection (and HF_ENDPOINT), or set HF_HUB_OFFLINE=1 and use cached models."
        )
    raise DownloadError(
        f"could not download the weights of {label} ({tried}). Retry later, check HF_ENDPOINT, or download "
        f"{weights.filename} yourself (sha256 {weights.sha256}) and pass its path to skeletonzoo.load()."
    )


# --------------------------------------------------------------------------------------------
# The cache, for `skeletonzoo cache ls|verify|clear`.


@dataclass(frozen=True)
class CachedFile:
    """One weights file in the cache.

    Attributes:
        path: Where it is (for Hub downloads: the snapshot entry).
        source: ``"huggingface"`` or ``"mirror"``.
        size_bytes: Its size on disk.
        models: Manifest names whose weights it is (empty: the manifest does not list it).
        expected: The manifest entry it should match, if any.
    """

    path: Path
    source: Literal["huggingface", "mirror"]
    size_bytes: int
    models: tuple[str, ...]
    expected: PublishedWeights | None


def _published(manifest: Manifest) -> list[tuple[str, PublishedWeights]]:
    return [(name, w) for name, record in manifest.models.items() for w in record.weights]


def existing_cache_root(cache_dir: str | Path | None = None) -> Path:
    """:func:`cache_root`, checked before the cache is listed, verified or cleared.

    It need not exist (an empty cache). Loading bundled weights never reads the cache, so only
    the cache commands check.

    Raises:
        ValueError: the cache root is a file (listing or clearing it would report an empty cache).
    """
    root = cache_root(cache_dir)
    if root.exists() and not root.is_dir():
        source = "--cache-dir / cache_dir" if cache_dir is not None else f"${CACHE_ENV} or $HF_HOME"
        raise ValueError(f"the weights cache {root} (from {source}) is a file; point it at a folder")
    return root


def list_cache(cache_dir: str | Path | None = None, manifest: Manifest | None = None) -> list[CachedFile]:
    """Every weights file under the cache root, matched to the manifest.

    Raises:
        ValueError: the cache root is a file.
    """
    if manifest is None:
        from .manifest import current_manifest

        manifest = current_manifest()
    published = _published(manifest)
    root = existing_cache_root(cache_dir)
    found: list[CachedFile] = []
    mirrors = root / "mirrors"
    if mirrors.is_dir():
        for path in sorted(p for p in mirrors.glob("*/*") if p.is_file() and not p.name.startswith(".")):
            sha = path.parent.name
            match = [(n, w) for n, w in published if w.sha256 == sha and w.filename == path.name]
            found.append(
                CachedFile(
                    path, "mirror", path.stat().st_size, tuple(n for n, _ in match), match[0][1] if match else None
                )
            )
    hub = _hf_dir(root)
    if hub.is_dir():
        for repo in sorted(hub.glob("models--*")):
            repo_id = repo.name[len("models--") :].replace("--", "/")
            for commit_dir in sorted((repo / "snapshots").glob("*")):
                for path in sorted(p for p in commit_dir.rglob("*") if p.is_file()):
                    filename = path.relative_to(commit_dir).as_posix()
                    match = [
                        (n, w)
                        for n, w in published
                        if (hf := w.sources.huggingface) is not None
                        and (hf.repo_id, hf.revision, hf.filename) == (repo_id, commit_dir.name, filename)
                    ]
                    found.append(
                        CachedFile(
                            path,
                            "huggingface",
                            path.stat().st_size,
                            tuple(n for n, _ in match),
                            match[0][1] if match else None,
                        )
                    )
    return found


def verify_cache(
    cache_dir: str | Path | None = None, *, remove_bad: bool = False, manifest: Manifest | None = None
) -> list[tuple[CachedFile, str]]:
    """Re-check every cached file against the manifest.

    Returns:
        ``(file, status)`` pairs, status ``"ok"``, ``"unknown"`` (not in the manifest) or the
        mismatch found (the file is deleted when ``remove_bad``).
    """
    results = []
    for cached in list_cache(cache_dir, manifest):
        if cached.expected is None:
            results.append((cached, "unknown"))
            continue
        try:
            verify_file(cached.path, cached.expected)
            results.append((cached, "ok"))
        except ChecksumError as exc:
            if remove_bad:
                _remove_cached(cached.path, cached.source)
            results.append((cached, str(exc) + ("; removed" if remove_bad else "")))
    return results


def _ours_in_cache(root: Path, manifest: Manifest) -> list[Path]:
    """The folders under ``root`` that skeletonzoo's downloads made: ``mirrors/<sha256>/`` and
    the Hub cache's folders of the repositories the manifest names (``hub/models--ORG--NAME``
    and their ``hub/.locks`` entries). Anything else there belongs to someone else."""
    folders: list[Path] = []
    mirrors = root / "mirrors"
    if mirrors.is_dir():
        folders += [d for d in sorted(mirrors.iterdir()) if d.is_dir() and re.fullmatch(r"[0-9a-f]{64}", d.name)]
    repos = {hf.repo_id for _, w in _published(manifest) if (hf := w.sources.huggingface) is not None}
    hub = _hf_dir(root)
    for repo_id in sorted(repos):
        folder = "models--" + repo_id.replace("/", "--")
        folders += [d for d in (hub / folder, hub / ".locks" / folder) if d.is_dir()]
    return folders


def clear_cache(cache_dir: str | Path | None = None, manifest: Manifest | None = None) -> int:
    """Delete the weights skeletonzoo downloaded into the cache; returns the bytes freed.

    Only what :func:`resolve_weights` writes is deleted: the mirror downloads and the Hub
    cache's folders of the repositories in the manifest. Other files are left alone, so a
    ``cache_dir`` shared with other libraries (say ``$HF_HOME`` itself) keeps their models.
    """
    if manifest is None:
        from .manifest import current_manifest

        manifest = current_manifest()
    root = existing_cache_root(cache_dir)
    freed = 0
    for folder in _ours_in_cache(root, manifest):
        freed += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
        shutil.rmtree(folder)
    hub = _hf_dir(root)
    for folder in (root / "mirrors", hub / ".locks", hub):
        # huggingface_hub's CACHEDIR.TAG alone does not keep its folder
        if folder.is_dir() and {p.name for p in folder.iterdir()} <= {"CACHEDIR.TAG"}:
            shutil.rmtree(folder)
    return freed
