"""Weights resolution against a loopback Hub (tests/hub_server.py): never the network."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hub_server import HubServer
from zoo_helpers import REPO_ID, make_checkpoint, published, write_manifest_with

import skeletonzoo
from skeletonzoo import hub
from skeletonzoo.exceptions import ChecksumError, DownloadError, OfflineError
from skeletonzoo.manifest import PublishedWeights

REPO = Path(__file__).resolve().parents[1]
NAME = "skeletonclr-nwucla-xview"
MIRROR_NAME = "aimclr-nwucla-xview"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, tuple[bytes, dict]]:
    folder = tmp_path_factory.mktemp("checkpoints")
    out = {}
    for seed, name in enumerate((NAME, MIRROR_NAME)):
        path = folder / f"{name}.safetensors"
        encoders = make_checkpoint(path, name, seed=seed + 1)
        out[name] = (path.read_bytes(), encoders)
    return out


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SKELETONZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SKELETONZOO_MANIFEST", str(tmp_path / "manifest.json"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "BUNDLED_ROOT", tmp_path / "package")
    return tmp_path


@pytest.fixture
def server(env, monkeypatch):
    with HubServer() as s:
        monkeypatch.setenv("HF_ENDPOINT", s.url)
        yield s


@pytest.fixture
def no_backoff(monkeypatch) -> list[float]:
    """huggingface_hub retries 5xx and connection errors with sleeps of 1-8 s: record them instead."""
    import huggingface_hub.utils._http as http

    sleeps: list[float] = []
    monkeypatch.setattr(http, "time", SimpleNamespace(sleep=sleeps.append))
    return sleeps


def _publish(env: Path, entries: dict[str, PublishedWeights]) -> None:
    write_manifest_with(env / "manifest.json", entries)


def _on_hub(server: HubServer, env: Path, data: bytes, *, served: bytes | None = None, urls=()) -> PublishedWeights:
    """Publish ``data`` as NAME's weights on the loopback Hub (serving ``served`` bytes instead, if given)."""
    commit = server.add_file(REPO_ID, f"{NAME}.safetensors", served if served is not None else data)
    entry = published(NAME, data, hf_revision=commit, urls=urls)
    _publish(env, {NAME: entry})
    return entry


def _clips() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(3, 3, 24, 20, 1)).astype(np.float32)


def _features(model: torch.nn.Module) -> np.ndarray:
    return skeletonzoo.embed(model, _clips())


def _reference_features(encoder: torch.nn.Module) -> np.ndarray:
    """The same clips through the NW-UCLA pipeline and the plain (unfused) encoder path."""
    from skeletonzoo.data.nwucla import NWUCLA_PREPROCESS

    with torch.no_grad():
        x = NWUCLA_PREPROCESS(torch.from_numpy(_clips()))
        return encoder.pool(encoder.forward_maps(x), x.shape[-1]).numpy()


def _hub_files(env: Path) -> list[Path]:
    """Downloaded blobs and snapshot entries in the Hub cache (not its locks and tags)."""
    return [p for p in (env / "cache" / "hub").rglob("*") if p.is_file() and {"blobs", "snapshots"} & set(p.parts)]


def test_download_then_cache_hit_with_the_server_stopped(server, env, checkpoints):
    data, encoders = checkpoints[NAME]
    entry = _on_hub(server, env, data)
    path = hub.resolve_weights(entry, name=NAME)
    assert path.read_bytes() == data
    assert server.count("HEAD", f"/{REPO_ID}/resolve/{entry.sources.huggingface.revision}/") == 1
    assert server.count("GET", "/cdn/") == 1
    server.stop()
    again = hub.resolve_weights(entry, name=NAME)
    assert again == path
    model = skeletonzoo.load(NAME)  # still no server: the cached, verified copy
    np.testing.assert_allclose(_features(model), _reference_features(encoders["joint"]), atol=1e-5)
    assert model.published == entry and not model.training


def test_revision_is_pinned_to_the_manifest_commit(server, env, checkpoints):
    data, _ = checkpoints[NAME]
    other, _ = checkpoints[MIRROR_NAME]
    entry = _on_hub(server, env, data)
    pinned = entry.sources.huggingface.revision
    newer = server.add_file(REPO_ID, f"{NAME}.safetensors", other)  # `main` now points elsewhere
    assert newer != pinned
    path = hub.resolve_weights(entry, name=NAME)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256
    assert server.count("HEAD", f"/{REPO_ID}/resolve/{pinned}/") == 1
    assert server.count("HEAD", f"/{REPO_ID}/resolve/main/") == 0
    assert f"/snapshots/{pinned}/" in path.as_posix()


def test_offline_without_and_with_a_cached_copy(server, env, checkpoints, monkeypatch):
    data, _ = checkpoints[NAME]
    entry = _on_hub(server, env, data)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="offline mode is on") as err:
        skeletonzoo.load(NAME)
    assert entry.sha256 in str(err.value)
    assert server.requests == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    hub.resolve_weights(entry, name=NAME)  # online once: cached
    seen = len(server.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert skeletonzoo.load(NAME).published == entry
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert skeletonzoo.load(NAME, local_files_only=True).published == entry
    assert len(server.requests) == seen


@pytest.mark.parametrize("damage", ["corrupted", "truncated"])
def test_bad_download_is_deleted_and_never_loaded(server, env, checkpoints, monkeypatch, damage):
    data, _ = checkpoints[NAME]
    if damage == "corrupted":
        served = bytearray(data)
        served[len(data) // 2] ^= 0xFF
        served = bytes(served)
    else:
        served = data[: len(data) // 2]
    _on_hub(server, env, data, served=served)
    import skeletonzoo.api as api

    loads: list[object] = []
    real = api.load_checkpoint
    monkeypatch.setattr(api, "load_checkpoint", lambda *a, **k: loads.append(a) or real(*a, **k))
    with pytest.raises(ChecksumError, match="nothing was loaded") as err:
        skeletonzoo.load(NAME)
    assert ("bytes" if damage == "truncated" else "sha256") in str(err.value)
    assert loads == []
    assert _hub_files(env) == [] and hub.list_cache() == []
    assert server.count("GET", "/cdn/") == 1


def test_server_error_is_a_download_error(server, env, checkpoints, no_backoff):
    data, _ = checkpoints[NAME]
    _on_hub(server, env, data)
    server.fail_status = 500
    with pytest.raises(DownloadError, match="HTTP 500"):
        skeletonzoo.load(NAME)
    assert len(no_backoff) >= 1  # huggingface_hub retried before giving up
    assert server.count("GET", "/cdn/") == 0 and hub.list_cache() == []


def test_falls_back_to_a_mirror_url(server, env, checkpoints, no_backoff):
    data, _ = checkpoints[NAME]
    url = server.add_mirror("w.safetensors", data)
    entry = _on_hub(server, env, data, urls=(url,))
    server.fail_status = 503
    path = hub.resolve_weights(entry, name=NAME)
    assert path == env / "cache" / "mirrors" / entry.sha256 / entry.filename
    assert path.read_bytes() == data and server.count("GET", "/mirror/") == 1
    server.stop()
    assert hub.resolve_weights(entry, name=NAME) == path  # cache hit, no server
    assert [f.models for f in hub.list_cache()] == [(NAME,)]


def test_bad_mirror_download_leaves_nothing(server, env, checkpoints):
    data, _ = checkpoints[NAME]
    url = server.add_mirror("w.safetensors", data[:-10] + b"0123456789")
    entry = published(NAME, data, urls=(url,))
    _publish(env, {NAME: entry})
    with pytest.raises(ChecksumError, match="sha256"):
        hub.resolve_weights(entry, name=NAME)
    folder = env / "cache" / "mirrors" / entry.sha256
    assert [p.name for p in folder.iterdir() if not p.name.endswith(".lock")] == []


def test_unreachable_sources_raise_offline_error(env, checkpoints, monkeypatch, no_backoff):
    with HubServer() as s:
        url = s.url
    monkeypatch.setenv("HF_ENDPOINT", url)  # nothing listens there any more
    data, _ = checkpoints[NAME]
    entry = published(NAME, data, hf_revision="a" * 40, urls=(f"{url}/mirror/w.safetensors",))
    with pytest.raises(OfflineError, match="could not reach"):
        hub.resolve_weights(entry, name=NAME)


def test_bundled_copy_comes_first_and_a_damaged_one_is_skipped(server, env, checkpoints):
    data, _ = checkpoints[NAME]
    commit = server.add_file(REPO_ID, f"{NAME}.safetensors", data)
    entry = published(NAME, data, bundled=True, hf_revision=commit)
    _publish(env, {NAME: entry})
    bundled = env / "package" / "weights" / f"{NAME}.safetensors"
    bundled.parent.mkdir(parents=True)
    bundled.write_bytes(data)
    assert hub.resolve_weights(entry, name=NAME) == bundled
    assert skeletonzoo.load(NAME).published == entry
    assert server.requests == []
    bundled.write_bytes(data[:100])
    path = hub.resolve_weights(entry, name=NAME)
    assert path != bundled and path.read_bytes() == data
    assert bundled.exists()  # package files are reported, never deleted


def test_damaged_cache_entry_is_replaced(server, env, checkpoints):
    data, _ = checkpoints[NAME]
    entry = _on_hub(server, env, data)
    path = hub.resolve_weights(entry, name=NAME)
    blob = Path(os.path.realpath(path))
    blob.write_bytes(b"x" * len(data))
    assert [status for _, status in hub.verify_cache()][0].startswith(str(path))
    again = hub.resolve_weights(entry, name=NAME)
    assert again.read_bytes() == data and server.count("GET", "/cdn/") == 2
    assert [status for _, status in hub.verify_cache()] == ["ok"]
    assert hub.clear_cache() >= len(data) and hub.list_cache() == []
    assert not (env / "cache" / "hub").exists()


def test_missing_file_on_the_hub(server, env, checkpoints):
    data, _ = checkpoints[NAME]
    commit = server.add_file(REPO_ID, "other.safetensors", b"other")
    entry = published(NAME, data, hf_revision=commit)
    with pytest.raises(DownloadError, match="HTTP 404"):
        hub.resolve_weights(entry, name=NAME)


def test_cache_root_follows_hf_home(monkeypatch, tmp_path):
    monkeypatch.delenv("SKELETONZOO_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert hub.cache_root() == tmp_path / "hf" / "skeletonzoo"
    monkeypatch.setenv("SKELETONZOO_CACHE", str(tmp_path / "zoo"))
    assert hub.cache_root() == tmp_path / "zoo"
    assert hub.cache_root(tmp_path / "given") == tmp_path / "given"
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("SKELETONZOO_CACHE", str(tmp_path / "a_file"))
    with pytest.raises(ValueError, match=r"a_file \(from \$SKELETONZOO_CACHE or \$HF_HOME\) is a file; point it at a "):
        hub.list_cache()
    with pytest.raises(ValueError, match=r"a_file \(from --cache-dir / cache_dir\) is a file"):
        hub.clear_cache(tmp_path / "a_file")
    # loading bundled weights never reads the cache: a misdirected variable does not stop it
    import skeletonzoo

    assert skeletonzoo.load("msmclr-nwucla-xview").published is not None


_WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    import numpy as np
    import skeletonzoo
    ready, go = sys.argv[1], sys.argv[2]
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.01)
    x = np.random.default_rng(0).normal(size=(3, 3, 24, 20, 1)).astype(np.float32)  # as _clips()
    out = {}
    for name in sys.argv[3:]:
        out[name] = skeletonzoo.embed(skeletonzoo.load(name), x).tolist()
    print(json.dumps(out))
    """
)


@pytest.mark.slow
def test_four_processes_load_the_same_models_at_once(server, env, checkpoints):
    hub_data, hub_encoders = checkpoints[NAME]
    mirror_data, mirror_encoders = checkpoints[MIRROR_NAME]
    commit = server.add_file(REPO_ID, f"{NAME}.safetensors", hub_data)
    url = server.add_mirror("aimclr.safetensors", mirror_data)
    _publish(env, {
        NAME: published(NAME, hub_data, hf_revision=commit),
        MIRROR_NAME: published(MIRROR_NAME, mirror_data, urls=(url,)),
    })  # fmt: skip
    server.body_delay = 0.5  # keep the first download in flight while the others arrive
    environ = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    procs = []
    for i in range(4):
        procs.append(subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(env / f"ready{i}"), str(env / "go"), NAME, MIRROR_NAME],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ,
        ))  # fmt: skip
    deadline = time.monotonic() + 120
    while not all((env / f"ready{i}").exists() for i in range(4)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    (env / "go").touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r == results[0] for r in results)  # same files, same threads: the same bits
    assert server.count("GET", "/cdn/") == 1 and server.count("GET", "/mirror/") == 1
    np.testing.assert_allclose(results[0][NAME], _reference_features(hub_encoders["joint"]), atol=1e-5)
    np.testing.assert_allclose(results[0][MIRROR_NAME], _reference_features(mirror_encoders["joint"]), atol=1e-5)
    assert sorted(f.models for f in hub.list_cache()) == [(MIRROR_NAME,), (NAME,)]
    assert [s for _, s in hub.verify_cache()] == ["ok", "ok"]


def test_clear_cache_deletes_only_what_skeletonzoo_downloaded(server, env, checkpoints):
    """A cache folder shared with other libraries (``--cache-dir $HF_HOME``) keeps their files."""
    data, _ = checkpoints[NAME]
    entry = _on_hub(server, env, data)
    hub.resolve_weights(entry, name=NAME)
    root = env / "cache"
    foreign = root / "hub" / "models--someone--their-model" / "snapshots" / "abc" / "model.bin"
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"theirs")
    stray_mirror = root / "mirrors" / "not-a-sha256" / "notes.txt"
    stray_mirror.parent.mkdir(parents=True)
    stray_mirror.write_text("theirs too")
    ours = root / "hub" / ("models--" + REPO_ID.replace("/", "--"))
    assert ours.is_dir()
    assert hub.clear_cache() >= len(data)
    assert not ours.exists() and [f.path for f in hub.list_cache() if f.models] == []
    assert foreign.read_bytes() == b"theirs" and stray_mirror.read_text() == "theirs too"
