"""The registry: every name of both papers, each building a model that embeds correctly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from zoo_helpers import write_unpublished_manifest

import skeletonzoo
from skeletonzoo import registry
from skeletonzoo._entries import model_name
from skeletonzoo.checkpoint import CheckpointMetadata, ComponentSpec
from skeletonzoo.data.nwucla import NWUCLA_PREPROCESS
from skeletonzoo.data.preprocess import Preprocess
from skeletonzoo.data.streams import to_stream
from skeletonzoo.exceptions import UnknownModelError
from skeletonzoo.models import SkeletonEncoder
from skeletonzoo.models.ensemble import GroupedInputEncoder, StreamEnsemble
from skeletonzoo.registry import get_spec, list_models, model_info, register

_NTU = ["ntu60-xsub", "ntu60-xview", "ntu120-xsub", "ntu120-xset"]
EXPECTED = sorted(
    [f"msmclr-{b}{s}" for b in [*_NTU, "pkummd1-xsub", "pkummd2-xsub"] for s in ("", "-bone", "-motion", "-3s")]
    + [f"{m}-{b}" for m in ("crosscale-sgclr", "crosview-sgclr", "sgclr") for b in _NTU]
    + [f"{m}-{b}" for m in ("skeletonclr", "aimclr") for b in [*_NTU, "pkummd1-xsub"]]
    + [f"{m}-nwucla-xview" for m in ("skeletonclr", "aimclr", "msmclr", "crosscale-sgclr", "sgclr")]
)
ALL = list_models()


def test_the_zoo_has_every_configuration_of_both_papers():
    assert ALL == EXPECTED
    assert len(ALL) == 51


@pytest.fixture
def unpublished(tmp_path, monkeypatch):
    write_unpublished_manifest(tmp_path / "manifest.json")
    monkeypatch.setenv("SKELETONZOO_MANIFEST", str(tmp_path / "manifest.json"))


def test_patterns_and_filters(unpublished):
    assert list_models("MSMCLR-ntu60-xsub*") == [
        "msmclr-ntu60-xsub", "msmclr-ntu60-xsub-3s", "msmclr-ntu60-xsub-bone", "msmclr-ntu60-xsub-motion",
    ]  # fmt: skip
    assert list_models("*-nwucla-*") == [n for n in EXPECTED if "nwucla" in n]
    assert list_models("nothing*") == []
    assert list_models(pretrained=False) == ALL  # nothing published in this manifest
    assert list_models(pretrained=True) == []


def test_unknown_names_suggest_close_ones():
    with pytest.raises(UnknownModelError, match="did you mean 'msmclr-ntu120-xset'") as err:
        model_info("msmclr_ntu120_xset")
    assert isinstance(err.value, KeyError) and "51 names" in str(err.value)
    with pytest.raises(UnknownModelError, match="unknown model 'resnet50'; `skeletonzoo list`"):
        get_spec("resnet50")


def test_registering_a_name_twice_raises():
    with pytest.raises(ValueError, match="registered twice"):
        register(get_spec("msmclr-ntu60-xsub"))


@pytest.mark.parametrize("name", ALL)
def test_entry_is_consistent(name):
    info = model_info(name)
    assert model_name(info.method, info.dataset, info.split, info.stream) == name
    assert info.num_classes == {"ntu60": 60, "ntu120": 120, "pkummd1": 51, "pkummd2": 51, "nwucla": 10}[info.dataset]
    expected_preprocess = NWUCLA_PREPROCESS if info.dataset == "nwucla" else Preprocess()
    assert info.preprocess == expected_preprocess
    assert info.layout == "ntu25" and info.input_layout == ("nwucla20" if info.dataset == "nwucla" else "ntu25")
    if info.stream == "3s":
        assert info.weights == () and info.pretrained == all(model_info(m).pretrained for m in info.members.values())
        assert info.recipe is None and info.components == {}
        assert info.members == {
            s: model_name(info.method, info.dataset, info.split, s) for s in ("joint", "bone", "motion")
        }
        assert info.fusion_weights == {"joint": 0.6, "bone": 0.6, "motion": 0.4}
        assert info.num_features == 768
    else:
        assert info.pretrained == bool(info.weights)
        assert info.recipe == name
        assert info.num_features == 256
        joint = info.components["joint"].config
        assert (joint.hidden_channels, joint.hidden_dim, joint.layout, joint.in_channels) == (16, 256, "ntu25", 3)
        expected_components = {"crosscale-sgclr": ["joint", "scale"], "crosview-sgclr": ["joint", "motion"]}
        assert list(info.components) == expected_components.get(info.method, ["joint"])
    # PKU-MMD II: MsMCLR's paper reports the three-stream result only
    quoted = info.dataset != "nwucla" and (info.dataset != "pkummd2" or info.stream == "3s")
    assert (len(info.paper_metrics) == 1) == quoted


def _plain(encoder: SkeletonEncoder, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return encoder.pool(encoder.forward_maps(x), x.shape[-1])


def _reference(model: torch.nn.Module, positions: torch.Tensor, stream: str) -> np.ndarray:
    """What the model must compute on normalised positions, through the plain encoder path."""
    if isinstance(model, StreamEnsemble):
        assert model.streams == ("joint", "bone", "motion")
        parts = [_plain(model.members[s], to_stream(positions, s, "ntu25")) for s in model.streams]
        return torch.cat(parts, 1).numpy()
    return _plain(model, to_stream(positions, stream, "ntu25")).numpy()


@pytest.mark.parametrize("name", ALL)
def test_every_entry_builds_and_embeds(name):
    info = model_info(name)
    model = skeletonzoo.load(name, pretrained=False)
    assert not model.training and model.num_features == info.num_features
    assert model.layout.name == info.layout and model.stream == info.stream and model.preprocess == info.preprocess
    # A short normalised sequence keeps 51 models cheap; the stream is still derived per model.
    positions = torch.randn(1, 3, 4, 25, info.preprocess.num_persons, generator=torch.Generator().manual_seed(1))
    feats = skeletonzoo.embed(model, positions.numpy(), preprocess=False)
    assert feats.dtype == np.float32 and feats.shape == (1, info.num_features) and np.isfinite(feats).all()
    np.testing.assert_allclose(feats, _reference(model, positions, info.stream), atol=2e-5)


@pytest.mark.parametrize("name", ["msmclr-ntu60-xsub-bone", "msmclr-pkummd1-xsub-3s", "aimclr-nwucla-xview"])
def test_raw_input_goes_through_the_training_pipeline(name):
    info = model_info(name)
    model = skeletonzoo.load(name, pretrained=False)
    v = 20 if info.input_layout == "nwucla20" else 25
    raw = torch.randn(2, 3, 16, v, info.preprocess.num_persons, generator=torch.Generator().manual_seed(2))
    positions = info.preprocess(raw)
    assert positions.shape == (2, 3, 50, 25, info.preprocess.num_persons)
    np.testing.assert_allclose(skeletonzoo.embed(model, raw), _reference(model, positions, info.stream), atol=2e-5)


@pytest.mark.parametrize("name", [n for n in ALL if n.startswith(("crosscale", "crosview"))])
def test_second_components_are_reachable(name):
    info = model_info(name)
    second = next(c for c in info.components if c != "joint")
    model = skeletonzoo.load(name, pretrained=False, component=second)
    raw = torch.randn(2, 3, 16, 20 if info.dataset == "nwucla" else 25, info.preprocess.num_persons)
    positions = info.preprocess(raw)
    if second == "scale":
        assert isinstance(model, GroupedInputEncoder) and model.encoder.layout.name == "coarse10"
        from skeletonzoo.skeleton.groupings import CROSSCALE_PARTS_10

        expected = _plain(model.encoder, CROSSCALE_PARTS_10.apply(positions, dim=3))
    else:
        assert model.stream == "motion"
        expected = _plain(model, to_stream(positions, "motion"))
    np.testing.assert_allclose(skeletonzoo.embed(model, raw), expected.numpy(), atol=2e-5)
    with pytest.raises(ValueError, match="has components"):
        skeletonzoo.load(name, pretrained=False, component="bone")


def test_checkpoint_problems_name_each_difference():
    spec = get_spec("msmclr-ntu60-xsub-bone")
    good = CheckpointMetadata(
        components={"joint": ComponentSpec(config=spec.components["joint"].config.model_copy(update={"dropout": 0.1}))},
        stream="bone",
        preprocessing=Preprocess().to_dict(),
    )
    assert spec.checkpoint_problems(good) == []  # dropout does not change the model
    # the same architecture trained by another method is another model
    skeletonclr = good.model_copy(update={"provenance": {"method": "skeletonclr"}})
    assert spec.checkpoint_problems(skeletonclr) == ["trained with method 'skeletonclr', expected 'msmclr'"]
    assert spec.checkpoint_problems(good.model_copy(update={"provenance": {"method": "msmclr"}})) == []
    wider = spec.components["joint"].config.model_copy(update={"hidden_channels": 64})
    wide = good.model_copy(update={
        "components": {"joint": ComponentSpec(config=wider)},
        "stream": "joint",
        "preprocessing": Preprocess(num_frames=64).to_dict(),
    })  # fmt: skip
    problems = spec.checkpoint_problems(wide)
    assert problems[0] == "joint.hidden_channels is 64, expected 16"
    assert problems[1] == "stream 'joint', expected 'bone'"
    assert "num_frames" in problems[2]


def test_zoo_doc_is_up_to_date():
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "docs" / "generate_zoo.py"
    spec = importlib.util.spec_from_file_location("generate_zoo", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.ZOO_MD.read_text() == module.render(), "docs/zoo.md is stale: run `python docs/generate_zoo.py`"
    assert module.main(["--check"]) == 0


def test_recipe_files_and_registry_agree():
    """Every trainable entry has its recipe, and the recipe trains that very model."""
    from skeletonzoo.pretrain.recipe import load_recipe

    shipped = sorted(p.stem for p in registry.RECIPES_DIR.glob("*.yaml") if not p.stem.startswith("_"))
    assert shipped == [n for n in ALL if not n.endswith("-3s")]
    assert model_info("msmclr-ntu60-xsub-3s").recipe_file is None  # ensembles combine their members
    for name in shipped:
        info = model_info(name)
        assert info.recipe_file == registry.RECIPES_DIR / f"{name}.yaml"
        recipe = load_recipe(info.recipe_file)
        assert (recipe.name, recipe.method, recipe.stream) == (name, info.method, info.stream)
        assert (recipe.dataset, recipe.benchmark) == (info.dataset, info.split)
        assert recipe.model.encoder == info.components["joint"].config


def test_names_are_matched_in_any_case_and_bad_arguments_are_type_errors():
    import skeletonzoo

    assert skeletonzoo.model_info("MsMCLR-NWUCLA-xview") == skeletonzoo.model_info("msmclr-nwucla-xview")
    with pytest.raises(TypeError, match="pretrained is True, False or None, got 'no'"):
        skeletonzoo.list_models(pretrained="no")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pattern is an fnmatch string"):
        skeletonzoo.list_models(3)  # type: ignore[arg-type]


def test_the_method_tables_name_the_same_methods():
    """The registry's method metadata (importable without training code), the pretraining
    classes and the converter's reference methods cover the same methods."""
    from skeletonzoo.convert import REFERENCE_METHODS
    from skeletonzoo.pretrain.methods import METHODS as TRAINED

    assert sorted(registry.METHODS) == sorted(TRAINED) == sorted(REFERENCE_METHODS)
    assert {model_info(name).method for name in ALL} <= set(TRAINED)
