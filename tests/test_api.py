"""load() and embed(): inputs, validation, layouts, checkpoint paths, revisions, ensembles."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from zoo_helpers import make_checkpoint, published, write_unpublished_manifest

import skeletonzoo
from skeletonzoo import hub, registry
from skeletonzoo.checkpoint import save_checkpoint
from skeletonzoo.data.adapters import adapt_layout
from skeletonzoo.data.nwucla import NWUCLA_PREPROCESS
from skeletonzoo.data.preprocess import Preprocess
from skeletonzoo.data.streams import to_stream
from skeletonzoo.exceptions import CheckpointError, InputWarning, UnknownModelError, WeightsNotPublishedError
from skeletonzoo.models import SkeletonEncoder

REPO = Path(__file__).resolve().parents[1]


def _plain(encoder: SkeletonEncoder, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return encoder.pool(encoder.forward_maps(x), x.shape[-1]).numpy()


@pytest.fixture(scope="module")
def ntu_bone() -> torch.nn.Module:
    return skeletonzoo.load("msmclr-ntu60-xsub-bone", pretrained=False)


@pytest.fixture(scope="module")
def ucla() -> torch.nn.Module:
    return skeletonzoo.load("skeletonclr-nwucla-xview", pretrained=False)


def _raw(n: int, t: int, v: int, m: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3, t, v, m)).astype(np.float32)


def test_batch_sample_list_and_torch_inputs_agree(ntu_bone):
    x = _raw(3, 30, 25, 2)
    x[1, :, 20:] = 0  # sample 1 has 20 frames, zero-padded to 30
    x[2, ..., 1] = 0  # sample 2 has one person
    batch = skeletonzoo.embed(ntu_bone, x)
    expected = _plain(ntu_bone, to_stream(Preprocess()(torch.from_numpy(x)), "bone", "ntu25"))
    np.testing.assert_allclose(batch, expected, atol=2e-5)
    clips = [x[0], x[1, :, :20], x[2]]
    np.testing.assert_allclose(skeletonzoo.embed(ntu_bone, clips), batch, atol=2e-5)
    np.testing.assert_allclose(skeletonzoo.embed(ntu_bone, x[1]), batch[1:2], atol=2e-5)
    np.testing.assert_allclose(skeletonzoo.embed(ntu_bone, torch.from_numpy(x), batch_size=1), batch, atol=2e-5)
    single_person = skeletonzoo.embed(ntu_bone, x[2:3, ..., :1])  # M=1 is padded to the model's 2
    np.testing.assert_allclose(single_person, batch[2:3], atol=2e-5)


def test_a_clips_length_does_not_depend_on_how_it_is_passed(ntu_bone, ucla):
    """A batch, one sample and a list give one length: for NTU-layout input the original's count of
    frames with joint 0 of person 0 (step 1), for NW-UCLA clips all their frames, as `prepare`
    does (a list used to take every frame, an array the count, whatever the data)."""
    x = _raw(1, 30, 25, 2, seed=7)[0]
    x[:, 5, 0, 0] = 0  # joint 0 of person 0 at the origin in frame 5 ...
    x[:, 24:] = 0  # ... and nobody from frame 24: 23 counted frames, the first 23 resized
    first_23 = Preprocess(length_rule="clip")(torch.from_numpy(x[None]), lengths=torch.tensor([23]))
    expected = _plain(ntu_bone, to_stream(first_23, "bone", "ntu25"))
    for form in (x, x[None], [x], [x[:, :26]], torch.from_numpy(x)):
        np.testing.assert_allclose(skeletonzoo.embed(ntu_bone, form), expected, atol=2e-5)

    clip = _raw(1, 20, 20, 1, seed=8)[0]
    clip[:, 3, 0] = 0  # NW-UCLA's HipCenter drops to the origin in a frame: still one of the clip's 20
    prepared = NWUCLA_PREPROCESS(torch.from_numpy(clip[None]), lengths=torch.tensor([20]), input_layout="nwucla20")
    expected = _plain(ucla, prepared)
    padded = np.zeros((2, 3, 25, 20, 1), dtype=np.float32)
    padded[0, :, :20] = clip
    padded[1] = _raw(1, 25, 20, 1, seed=9)[0]
    for form in (clip, [clip], padded):
        np.testing.assert_allclose(skeletonzoo.embed(ucla, form)[:1], expected, atol=2e-5)
    # one sample is one clip, trailing all-zero frames included, as in a list; in a batch they are padding
    tail = np.concatenate([clip, np.zeros_like(clip[:, :5])], axis=1)
    np.testing.assert_allclose(skeletonzoo.embed(ucla, tail), skeletonzoo.embed(ucla, [tail]), atol=2e-5)
    assert not np.allclose(skeletonzoo.embed(ucla, tail), expected, atol=1e-3)
    np.testing.assert_allclose(skeletonzoo.embed(ucla, tail[None]), expected, atol=2e-5)


def test_memory_mapped_input(ntu_bone, tmp_path):
    x = _raw(5, 12, 25, 2)
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    np.testing.assert_allclose(
        skeletonzoo.embed(ntu_bone, mapped, batch_size=2), skeletonzoo.embed(ntu_bone, x), atol=2e-5
    )


def test_already_normalised_positions(ntu_bone):
    positions = _raw(2, 50, 25, 2, seed=1)
    got = skeletonzoo.embed(ntu_bone, positions, preprocess=False)
    np.testing.assert_allclose(
        got, _plain(ntu_bone, to_stream(torch.from_numpy(positions), "bone", "ntu25")), atol=2e-5
    )
    with pytest.raises(ValueError, match="must share one length T"):
        skeletonzoo.embed(ntu_bone, [positions[0], positions[1, :, :40]], preprocess=False)


def test_empty_input_gives_zero_rows(ntu_bone):
    assert skeletonzoo.embed(ntu_bone, np.zeros((0, 3, 50, 25, 2), np.float32)).shape == (0, 256)
    assert skeletonzoo.embed(ntu_bone, []).shape == (0, 256)


@pytest.mark.parametrize(
    "shape, message",
    [
        (
            (2, 3, 10, 17, 1),
            "V=17 joints but 'msmclr-ntu60-xsub-bone' expects layout 'ntu25' \\(V=25\\); adapt with layout=\"coco17\" "
            "\\(--layout coco17 on the command line\\)$",
        ),
        ((2, 3, 10, 20, 1), 'adapt with layout="nwucla20" \\(--layout nwucla20 on the command line\\) or pick a '
                            'nwucla20 model \\(skeletonzoo list\\)'),
        ((2, 3, 10, 19, 1), "V=19 joints .* no known layout with V=19 has an adapter to 'ntu25'"),
        ((2, 2, 10, 25, 2), "C=2 channels but layout 'ntu25' takes C=3"),
        ((3, 10, 25), "expected a batch \\(N, C, T, V, M\\)"),
    ],
)
def test_wrong_shapes_name_the_expected_layout(ntu_bone, shape, message):
    with pytest.raises(ValueError, match=message):
        skeletonzoo.embed(ntu_bone, np.ones(shape, np.float32))


def test_a_file_name_as_data_says_to_load_it(ntu_bone, tmp_path):
    for given in ("clips.npy", tmp_path / "clips.npy"):
        with pytest.raises(TypeError, match=r"not a file name .*clips\.npy.*; load the file first, e\.g\. np\.load"):
            skeletonzoo.embed(ntu_bone, given)


def test_nan_and_extra_persons_name_the_samples(ntu_bone):
    x = _raw(5, 10, 25, 2)
    x[1, 0, 3, 4, 0] = np.nan
    x[3, 2, 0, 0, 1] = np.inf
    with pytest.raises(ValueError, match="samples 1, 3 contain NaN or inf"):
        skeletonzoo.embed(ntu_bone, x)
    x[3, 2, 0, 0, 1] = 0.0
    with pytest.raises(ValueError, match="sample 1 contains NaN or inf"):
        skeletonzoo.embed(ntu_bone, x)
    crowded = _raw(4, 10, 25, 3)
    crowded[[0, 2], ..., 2] = 0
    with pytest.raises(ValueError, match="samples 1, 3 have data in persons beyond the 2"):
        skeletonzoo.embed(ntu_bone, crowded)
    crowded[:, ..., 2] = 0  # an empty third person is dropped
    np.testing.assert_allclose(
        skeletonzoo.embed(ntu_bone, crowded), skeletonzoo.embed(ntu_bone, crowded[..., :2]), atol=2e-5
    )
    with pytest.raises(ValueError, match="sample 1 has shape \\(3, 10, 20, 2\\) but sample 0 has"):
        skeletonzoo.embed(ntu_bone, [x[0], x[1, :, :, :20]])


def test_layout_argument_runs_the_adapter(ntu_bone, ucla):
    clips = _raw(2, 20, 20, 1, seed=3)
    adapted = adapt_layout(torch.from_numpy(clips), "nwucla20", "ntu25").numpy()
    np.testing.assert_allclose(
        skeletonzoo.embed(ntu_bone, clips, layout="nwucla20"), skeletonzoo.embed(ntu_bone, adapted), atol=2e-5
    )
    with pytest.raises(ValueError, match="V=25 joints but layout='nwucla20' has V=20; .*layouts with V=25: ntu25"):
        skeletonzoo.embed(ntu_bone, _raw(1, 5, 25, 1), layout="nwucla20")
    with pytest.raises(ValueError, match="no known layout has V=7"):
        skeletonzoo.embed(ntu_bone, _raw(1, 5, 7, 1), layout="nwucla20")
    # a raw (T, V, C) clip read as (C, T, V, M): the error says how to reorder it
    reorder = r"V=3 looks like the x, y\(, z\) axis: .*clip.transpose\(2, 0, 1\)\[..., None\]"
    with pytest.raises(ValueError, match=reorder):
        skeletonzoo.embed(ucla, _raw(1, 30, 20, 1)[0, ..., 0].transpose(1, 2, 0)[..., None])
    # NW-UCLA models take their own Kinect v1 clips by default, and NTU-layout input as well
    expected = _plain(ucla, NWUCLA_PREPROCESS(torch.from_numpy(clips)))
    np.testing.assert_allclose(skeletonzoo.embed(ucla, clips), expected, atol=2e-5)
    ntu = _raw(2, 20, 25, 1, seed=4)
    np.testing.assert_allclose(
        skeletonzoo.embed(ucla, ntu),
        _plain(ucla, NWUCLA_PREPROCESS(torch.from_numpy(ntu), input_layout="ntu25")),
        atol=2e-5,
    )
    # preprocess=False: positions in the model's layout, adapted when layout= says otherwise
    positions = _raw(1, 8, 20, 1, seed=5)
    np.testing.assert_allclose(
        skeletonzoo.embed(ucla, positions, preprocess=False, layout="nwucla20"),
        _plain(ucla, adapt_layout(torch.from_numpy(positions), "nwucla20", "ntu25")),
        atol=2e-5,
    )
    flag_hint = ("expects layout 'ntu25' \\(V=25\\); without preprocessing .* need preprocess=True .* adapted "
                 "with layout='nwucla20' \\(--layout nwucla20\\)")
    with pytest.raises(ValueError, match=flag_hint) as err:
        skeletonzoo.embed(ucla, positions, preprocess=False)
    assert "pick a" not in str(err.value)  # the model takes nwucla20 clips itself: the flag is the fix


def test_two_d_keypoints_need_the_layout(ntu_bone):
    coco = _raw(2, 10, 17, 1)[:, :2]
    feats = skeletonzoo.embed(ntu_bone, coco, layout="coco17")
    # the same as adapting to the model's layout (z = 0) first and embedding that
    adapted = adapt_layout(torch.from_numpy(coco), "coco17", "ntu25").numpy()
    np.testing.assert_allclose(feats, skeletonzoo.embed(ntu_bone, adapted), atol=2e-5)
    assert feats.shape == (2, 256) and np.abs(feats[0] - feats[1]).max() > 1e-4  # two different clips


def test_bare_encoders_need_preprocess_false():
    encoder = SkeletonEncoder(hidden_channels=4, hidden_dim=8).eval()
    x = _raw(2, 6, 25, 2)
    with pytest.raises(ValueError, match="no preprocessing attached"):
        skeletonzoo.embed(encoder, x)
    np.testing.assert_allclose(
        skeletonzoo.embed(encoder, x, preprocess=False), _plain(encoder, torch.from_numpy(x)), atol=1e-5
    )


def test_unknown_and_unpublished_names(tmp_path, monkeypatch):
    write_unpublished_manifest(tmp_path / "manifest.json")
    monkeypatch.setenv("SKELETONZOO_MANIFEST", str(tmp_path / "manifest.json"))
    with pytest.raises(UnknownModelError, match="did you mean 'aimclr-ntu60-xview'"):
        skeletonzoo.load("aimclr-ntu60-xveiw")
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    monkeypatch.setattr(registry, "RECIPES_DIR", recipes)
    with pytest.raises(WeightsNotPublishedError) as err:
        skeletonzoo.load_model("msmclr-ntu60-xsub-bone")
    text = str(err.value)
    assert "No recipe ships for it yet (skeletonzoo/pretrain/recipes/msmclr-ntu60-xsub-bone.yaml" in text
    assert "skeletonzoo convert FILE.pt --method msmclr --stream bone -o msmclr-ntu60-xsub-bone.safetensors" in text
    (recipes / "msmclr-ntu60-xsub-bone.yaml").write_text("extends: _paper.yaml\n")
    with pytest.raises(
        WeightsNotPublishedError, match="Train them with `skeletonzoo-pretrain msmclr-ntu60-xsub-bone --data"
    ):
        skeletonzoo.load("msmclr-ntu60-xsub-bone")
    with pytest.raises(WeightsNotPublishedError, match="'msmclr-ntu60-xsub'"):
        skeletonzoo.embed("msmclr-ntu60-xsub-3s", _raw(1, 5, 25, 2))  # an ensemble needs its members


def test_load_a_checkpoint_path(tmp_path):
    path = tmp_path / "run" / "final.safetensors"
    encoders = make_checkpoint(path, "crosscale-sgclr-nwucla-xview", seed=7)
    model = skeletonzoo.load(path)
    assert model.model_name == str(path) and model.preprocess == NWUCLA_PREPROCESS and model.published is None
    clips = _raw(2, 20, 20, 1, seed=6)
    positions = NWUCLA_PREPROCESS(torch.from_numpy(clips))
    np.testing.assert_allclose(skeletonzoo.embed(str(path), clips), _plain(encoders["joint"], positions), atol=2e-5)
    scale = skeletonzoo.load(str(path), component="scale")
    from skeletonzoo.skeleton.groupings import CROSSCALE_PARTS_10

    np.testing.assert_allclose(
        skeletonzoo.embed(scale, clips),
        _plain(encoders["scale"], CROSSCALE_PARTS_10.apply(positions, dim=3)),
        atol=2e-5,
    )
    with pytest.raises(FileNotFoundError):
        skeletonzoo.load(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="pass the zoo name for an untrained encoder"):
        skeletonzoo.load(path, pretrained=False)
    with pytest.raises(ValueError, match="a checkpoint file is one set of weights: drop the revision"):
        skeletonzoo.load(path, revision="abcdef1")
    # a converted original-code file records no preprocessing: the original pipeline applies
    bare = tmp_path / "converted.safetensors"
    save_checkpoint(bare, {"joint": encoders["joint"]}, stream="motion")
    converted = skeletonzoo.load(bare)
    assert converted.preprocess == Preprocess() and converted.stream == "motion"


@pytest.fixture
def bundled(tmp_path, monkeypatch):
    """Publish checkpoints as bundled weights of a temporary package folder."""
    monkeypatch.setattr(hub, "BUNDLED_ROOT", tmp_path / "package")
    monkeypatch.setenv("SKELETONZOO_MANIFEST", str(tmp_path / "manifest.json"))
    monkeypatch.setenv("SKELETONZOO_CACHE", str(tmp_path / "cache"))

    def publish(files: dict[str, list[Path]]) -> dict:
        entries = {}
        for name, paths in files.items():
            versions = []
            for path in paths:
                data = path.read_bytes()
                target = tmp_path / "package" / "weights" / f"{name}.safetensors"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)  # the last version is the one bundled
                versions.append(published(name, data, bundled=True, hf_revision=f"{len(versions) + 1:x}" * 40))
            entries[name] = versions
        from skeletonzoo.manifest import PACKAGED_MANIFEST, Manifest, ModelRecord, load_manifest, write_manifest

        base = load_manifest(PACKAGED_MANIFEST)
        models = dict(base.models)
        for name, versions in entries.items():
            models[name] = ModelRecord(paper_metrics=base.record(name).paper_metrics, weights=tuple(versions))
        write_manifest(Manifest(models=models), tmp_path / "manifest.json")
        return entries

    return publish


def test_three_stream_ensemble_from_published_members(tmp_path, bundled):
    names = {s: f"msmclr-ntu60-xview{'' if s == 'joint' else '-' + s}" for s in ("joint", "bone", "motion")}
    encoders = {}
    for i, (stream, name) in enumerate(names.items()):
        encoders[stream] = make_checkpoint(tmp_path / f"{stream}.safetensors", name, seed=10 + i)["joint"]
    bundled({name: [tmp_path / f"{s}.safetensors"] for s, name in names.items()})
    assert skeletonzoo.model_info("msmclr-ntu60-xview-3s").pretrained
    assert "msmclr-ntu60-xview-3s" in skeletonzoo.list_models(pretrained=True)
    model = skeletonzoo.load("msmclr-ntu60-xview-3s")
    assert model.num_features == 768 and model.fusion_weights == {"joint": 0.6, "bone": 0.6, "motion": 0.4}
    x = _raw(2, 16, 25, 2, seed=8)
    positions = Preprocess()(torch.from_numpy(x))
    feats = skeletonzoo.embed(model, x)
    for stream, cols in model.feature_slices().items():
        np.testing.assert_allclose(
            feats[:, cols], _plain(encoders[stream], to_stream(positions, stream, "ntu25")), atol=2e-5
        )


def test_revision_selects_among_published_weights(tmp_path, bundled):
    name = "skeletonclr-nwucla-xview"
    make_checkpoint(tmp_path / "v1.safetensors", name, seed=1)
    make_checkpoint(tmp_path / "v2.safetensors", name, seed=2)
    v1, v2 = bundled({name: [tmp_path / "v1.safetensors", tmp_path / "v2.safetensors"]})[name]
    assert skeletonzoo.load(name).published == v2  # newest by default
    with pytest.raises(ValueError, match="matches no published weights"):
        skeletonzoo.load(name, revision="f" * 12)
    with pytest.raises(ValueError, match=r"'11' is too short \(at least 7 characters.*\(the default, newest\)"):
        skeletonzoo.load(name, revision="11")
    with pytest.raises(TypeError, match="revision is a string"):
        skeletonzoo.load(name, revision=1)  # type: ignore[arg-type]
    # v1's bytes are no longer bundled (v2 is) and it has no reachable source: verified or nothing
    with pytest.raises(skeletonzoo.OfflineError, match=rf"has sha256 {v2.sha256}, the manifest says {v1.sha256}; "
                       r".*and offline mode is on \(HF_HUB_OFFLINE=1 or local_files_only=True\)"):  # fmt: skip
        skeletonzoo.load(name, revision=v1.sha256[:12], local_files_only=True)
    assert skeletonzoo.load(name, revision=v2.sources.huggingface.revision[:8]).published == v2


def test_published_file_of_another_model_is_refused(tmp_path, bundled):
    make_checkpoint(tmp_path / "x.safetensors", "msmclr-nwucla-xview")
    bundled({"crosscale-sgclr-nwucla-xview": [tmp_path / "x.safetensors"]})
    with pytest.raises(CheckpointError, match="does not match the registry entry: components"):
        skeletonzoo.load("crosscale-sgclr-nwucla-xview")


def test_import_stays_light():
    code = (
        "import sys, skeletonzoo; "
        "print(sorted(m for m in ('huggingface_hub', 'requests', 'skeletonzoo.pretrain', 'skeletonzoo.hub') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert out.stdout.strip() == "[]"


def test_embed_warns_about_empty_samples_and_other_units(bundled):
    x = np.random.default_rng(0).random((3, 3, 20, 20, 1)).astype(np.float32)
    x[1] = 0
    model = skeletonzoo.load("msmclr-nwucla-xview", pretrained=False)
    with pytest.warns(InputWarning, match="sample 1 is all zeros \\(padding only\\): its features describe no motion"):
        skeletonzoo.embed(model, x)
    with pytest.warns(InputWarning, match="coordinates reach .*if these are millimetres, divide by 1000"):
        skeletonzoo.embed(model, x[[0]] * 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        skeletonzoo.embed(model, x[[0, 2]])  # metres, no padding-only sample: no warning


def test_embed_warns_when_a_clip_given_alone_ends_in_zero_frames(bundled):
    """A row cut from a padded batch, embedded on its own, keeps its padding as frames (its
    features differ from the batch's row): that is named; the batch and trimmed clips are not."""
    torch.manual_seed(0)  # the untrained model's init
    model = skeletonzoo.load("msmclr-nwucla-xview", pretrained=False).eval()
    batch = np.random.default_rng(3).random((2, 3, 30, 20, 1)).astype(np.float32) + 0.5
    batch[1, :, 18:] = 0  # a 18-frame clip padded to 30
    from_batch = skeletonzoo.embed(model, batch)
    with pytest.warns(InputWarning, match=r"sample 0 ends in all-zero frames, counted as frames of the clip"):
        alone = skeletonzoo.embed(model, batch[1])
    assert np.abs(alone[0] - from_batch[1]).max() > 1e-4  # the padding changed the features (10x the tolerance below)
    with pytest.warns(InputWarning, match=r"sample 1 ends in all-zero frames"):
        skeletonzoo.embed(model, list(batch))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trimmed = skeletonzoo.embed(model, [batch[0], batch[1][:, :18]])
    np.testing.assert_allclose(trimmed, from_batch, rtol=0, atol=1e-5)


def test_embed_takes_nested_lists_as_arrays(bundled):
    """Nested Python lists read as the array they spell: one (C, T, V, M) sample is one sample (not
    C samples), a batch a batch, and clips of different lengths a list of clips."""
    model = skeletonzoo.load("msmclr-nwucla-xview", pretrained=False).eval()
    x = np.random.default_rng(4).random((2, 3, 20, 20, 1)).astype(np.float32) + 0.5
    expected = skeletonzoo.embed(model, x)
    one = skeletonzoo.embed(model, x[1].tolist())
    assert one.shape == (1, 256)
    np.testing.assert_array_equal(one, skeletonzoo.embed(model, x[1]))
    np.testing.assert_array_equal(skeletonzoo.embed(model, x.tolist()), expected)
    with pytest.raises(ValueError, match=r"sample 0 has shape \(3, 20, 20\); a list takes \(C, T_i, V, M\)"):
        skeletonzoo.embed(model, [c[..., 0].tolist() for c in x])  # (C, T, V) clips without M: still a list
    ragged = [x[0].tolist(), x[1][:, :12].tolist()]
    np.testing.assert_array_equal(skeletonzoo.embed(model, ragged), skeletonzoo.embed(model, [x[0], x[1][:, :12]]))


def test_embed_warns_when_the_input_looks_already_normalised(bundled):
    model = skeletonzoo.load("msmclr-nwucla-xview", pretrained=False)
    raw = np.random.default_rng(1).random((2, 3, 30, 20, 1)).astype(np.float32) + 0.5  # NW-UCLA clips
    normalised = model.preprocess(torch.from_numpy(raw)).numpy()  # centred: joint 20 at the origin
    with pytest.warns(InputWarning, match="centre joint sits at the origin in every frame.*preprocess=False"):
        skeletonzoo.embed(model, normalised)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        skeletonzoo.embed(model, normalised, preprocess=False)
        skeletonzoo.embed(model, raw)
        skeletonzoo.embed(model, raw[:, :, :, [*range(20), 0, 1, 2, 3, 4]])  # raw 25-joint input: checked, fine


def test_embed_refuses_non_numeric_input_and_detaches_tensors(bundled):
    model = skeletonzoo.load("msmclr-nwucla-xview", pretrained=False)
    x = np.random.default_rng(2).random((2, 3, 20, 20, 1)).astype(np.float32) + 0.5
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = x[0], x[1][:, :10]
    with pytest.raises(ValueError, match="object array \\(clips of different lengths\\?\\); pass them as a list"):
        skeletonzoo.embed(model, ragged)
    for bad in (x > 1, x.astype(np.complex64), torch.from_numpy(x) > 1):
        with pytest.raises(ValueError, match="coordinates are real numbers"):
            skeletonzoo.embed(model, bad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no autograd warning from a tensor that requires grad
        feats = skeletonzoo.embed(model, torch.from_numpy(x).requires_grad_())
    np.testing.assert_allclose(feats, skeletonzoo.embed(model, x), atol=1e-6)
