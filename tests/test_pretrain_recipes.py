"""Recipes: every bundled one validates; errors name the field; extends and --set merge."""

from __future__ import annotations

import pytest
import torch

from skeletonzoo.pretrain.methods import METHODS
from skeletonzoo.pretrain.recipe import RecipeError, apply_overrides, list_recipes, load_recipe


@pytest.mark.parametrize("name", list_recipes())
def test_every_bundled_recipe_validates(name):
    recipe = load_recipe(name)
    assert recipe.name == name
    assert recipe.method in name
    assert all(0 < s < recipe.epochs for s in recipe.optimizer.lr_steps)


def test_nwucla_recipes_share_one_schedule():
    recipes = {r.method: r for r in (load_recipe(n) for n in list_recipes() if n.endswith("-nwucla-xview"))}
    assert set(recipes) >= {"skeletonclr", "aimclr", "msmclr", "crosscale-sgclr"}
    first = recipes["aimclr"]
    for method, r in recipes.items():
        # one data / optimiser setting for all (_nwucla.yaml) ...
        assert (r.batch_size, r.optimizer.lr, r.model.queue_size, r.model.momentum) == (
            first.batch_size, first.optimizer.lr, first.model.queue_size, first.model.momentum), method
        # ... and the papers' proportions for the length each recipe chose (its yaml says why):
        # lr x0.1 for the last sixth (42 of 50, 84 of 100), mining from half-way or not at all
        assert r.epochs in (50, 100) and r.optimizer.lr_steps == (r.epochs * 84 // 100,), method
        if METHODS[method].has_mining_phase:  # SkeletonCLR has none
            assert r.model.mining_epoch in (r.epochs // 2, r.epochs), method
    # the selections made on the training cameras (recipe comments, docs/results.md)
    for method in ("msmclr", "aimclr"):
        assert (recipes[method].epochs, recipes[method].model.mining_epoch) == (100, 100), method
    assert recipes["skeletonclr"].epochs == 100
    # the queue must be smaller than the data so a clip is never its own negative
    assert first.model.queue_size < 1020 - first.batch_size


def test_float32_paper_recipes_take_the_spectral_temporal_convolution():
    """The papers' float32 recipes compute temporal convolutions spectrally; the bf16 NW-UCLA
    recipes keep the direct algorithm their published runs used, which is not written into
    dumps (the runs' recorded recipes predate the field)."""
    for name in list_recipes():
        recipe = load_recipe(name)
        expected = "direct" if recipe.dataset == "nwucla" else "spectral"
        assert recipe.temporal_conv == expected, name
        assert ("temporal_conv" in recipe.model_dump()) == (expected == "spectral"), name
        assert ("spectral temporal convolutions" in recipe.summary()) == (expected == "spectral"), name
    assert load_recipe("msmclr-nwucla-xview", ["temporal_conv=spectral"]).temporal_conv == "spectral"
    # under amp bf16 the option does nothing, and the summary says so instead of claiming it
    bf16 = load_recipe("msmclr-nwucla-xview", ["temporal_conv=spectral", "amp=bf16"]).summary()
    assert "spectral temporal convolutions" not in bf16 and "no effect under amp bf16" in bf16


def test_overrides_are_typed_and_dotted():
    recipe = load_recipe("msmclr-nwucla-xview", ["epochs=10", "optimizer.lr_steps=[5]", "amp=bf16",
                                                 "model.encoder.hidden_channels=8"])  # fmt: skip
    assert recipe.epochs == 10 and recipe.optimizer.lr_steps == (5,) and recipe.amp == "bf16"
    assert recipe.model.encoder.hidden_channels == 8
    assert apply_overrides({"a": {"b": 1}}, ["a.c=x"]) == {"a": {"b": 1, "c": "x"}}


def test_errors_name_the_field(tmp_path):
    from skeletonzoo.exceptions import SkeletonZooError

    assert issubclass(RecipeError, SkeletonZooError) and issubclass(RecipeError, ValueError)
    with pytest.raises(RecipeError, match=r"--set optimizer.lrr=0.1: unknown field; did you mean 'lr'\?"):
        load_recipe("msmclr-nwucla-xview", ["optimizer.lrr=0.1"])
    with pytest.raises(RecipeError, match="unknown field; did you mean 'hidden_channels' or 'in_channels'"):
        load_recipe("msmclr-nwucla-xview", ["model.encoder.hiden_channels=3"])
    # settings that would fail only in the middle of a run are refused before it starts
    with pytest.raises(RecipeError, match=r"model.queue_size 32 is smaller than the 64 keys every step enqueues"):
        load_recipe("msmclr-nwucla-xview", ["model.queue_size=32"])
    with pytest.raises(RecipeError, match=r"model.topk 600 is more than the 512 queue entries"):
        load_recipe("aimclr-nwucla-xview", ["model.topk=600"])
    load_recipe("skeletonclr-nwucla-xview", ["model.topk=600"])  # no mining phase: topk unused
    with pytest.raises(RecipeError, match=r"crosview-sgclr trains on stream joint .*not 'bone'"):
        load_recipe("crosview-sgclr-ntu60-xsub", ["stream=bone"])
    # a consequence of an override names every --set given
    with pytest.raises(RecipeError, match=r"with --set epochs=1: .*lr_steps \[84\]: 84 outside 1..epochs-1 "
                                          r"\(epochs=1\); .*--set 'optimizer.lr_steps=\[\]' \(no lr drop\)"):
        load_recipe("msmclr-nwucla-xview", ["epochs=1"])
    assert load_recipe("msmclr-nwucla-xview", ["epochs=1", "optimizer.lr_steps=[]"]).optimizer.lr_steps == ()
    with pytest.raises(RecipeError, match=r"190 outside .*--set 'optimizer.lr_steps=\[50\]'$"):
        load_recipe("msmclr-nwucla-xview", ["optimizer.lr_steps=[50,190]"])
    with pytest.raises(RecipeError, match="did you mean msmclr-nwucla-xview"):
        load_recipe("msmclr-nwucla-xviw")
    with pytest.raises(RecipeError, match="key=value"):
        load_recipe("msmclr-nwucla-xview", ["epochs"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: bad.yaml\n")
    with pytest.raises(RecipeError, match="loops"):
        load_recipe(bad)
    bad.write_text("method: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(bad)
    bad.write_text("method: simclr\ndataset: x\nbenchmark: y\n")
    with pytest.raises(RecipeError, match="unknown method 'simclr'"):
        load_recipe(bad)


def test_summary_says_which_augmentations():
    """Model cards carry the summary: a corrected strong view must be visible there."""
    assert "corrected augmentations" in load_recipe("msmclr-nwucla-xview").summary()
    assert "original-code augmentations" in load_recipe("msmclr-ntu60-xsub").summary()
    aimclr = load_recipe("aimclr-ntu60-xsub", ["augment.corrected=true"]).summary()
    assert "corrected (extreme view without joint noise) augmentations" in aimclr
    assert "original-code (extreme view without joint noise)" in load_recipe("aimclr-ntu60-xsub").summary()
    earlier = load_recipe("aimclr-nwucla-xview", ["augment.joint_noise=true"])  # edba4b239927's chain
    assert "joint noise" not in earlier.summary()


def test_aimclr_extreme_view_ends_at_the_axis_mask_as_its_released_feeder():
    """AimCLR's Feeder_triple has no joint noise (MsMCLR's added it); at the earlier value (the
    chain of the NW-UCLA AimCLR entries before cad7ab51eaa0) the field is not written."""
    import json

    from skeletonzoo.pretrain.augment import AxisMask, JointNoise
    from skeletonzoo.pretrain.views import strong_view

    assert load_recipe("aimclr-ntu60-xsub").augment.joint_noise is False
    assert load_recipe("msmclr-ntu60-xsub").augment.joint_noise is True
    assert load_recipe("aimclr-nwucla-xview").augment.joint_noise is False
    assert "joint_noise" not in json.loads(load_recipe("msmclr-nwucla-xview").model_dump_json())["augment"]
    short, full = strong_view(joint_noise=False), strong_view()
    assert isinstance(short.augmentations[-1], AxisMask) and isinstance(full.augmentations[-1], JointNoise)
    x = torch.randn(4, 3, 50, 25, 2, generator=torch.Generator().manual_seed(0))
    draws = full.sample(x, torch.Generator().manual_seed(1))
    # the same draws up to the mask give the same view but for the one joint the noise replaces
    without = short.apply(x, draws[:-1])
    assert not torch.equal(without, full.apply(x, draws))
    changed = (without != full.apply(x, draws)).any(dim=(1, 2, 4))  # (N, V): only the noised joint differs
    assert changed.sum(dim=1).tolist() == [1, 1, 1, 1]
