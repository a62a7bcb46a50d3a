"""Recipes: every bundled one validates; errors name the field; extends and --set merge."""

from __future__ import annotations

import pytest

from skeletonzoo.pretrain.recipe import RecipeError, apply_overrides, list_recipes, load_recipe


@pytest.mark.parametrize("name", list_recipes())
def test_every_bundled_recipe_validates(name):
    recipe = load_recipe(name)
    assert recipe.name == name
    assert recipe.method in name
    assert all(0 < s < recipe.epochs for s in recipe.optimizer.lr_steps)


def test_nwucla_recipes_share_one_schedule():
    recipes = [load_recipe(n) for n in list_recipes() if n.endswith("-nwucla-xview")]
    assert {r.method for r in recipes} >= {"skeletonclr", "aimclr", "msmclr", "crosscale-sgclr"}
    # MsMCLR's NW-UCLA recipe runs 100 epochs without mining (its yaml says why); the rest share one
    shared = [r for r in recipes if r.method != "msmclr"]
    schedule = {(r.epochs, r.batch_size, r.optimizer, r.model.queue_size, r.model.mining_epoch) for r in shared}
    assert len(schedule) == 1 and shared[0].model.mining_epoch == shared[0].epochs // 2
    (msmclr,) = [r for r in recipes if r.method == "msmclr"]
    assert msmclr.model.mining_epoch == msmclr.epochs == 100 and msmclr.optimizer.lr_steps == (84,)
    assert (msmclr.batch_size, msmclr.optimizer.lr, msmclr.model.queue_size) == (
        shared[0].batch_size, shared[0].optimizer.lr, shared[0].model.queue_size)
    # the queue must be smaller than the data so a clip is never its own negative
    assert recipes[0].model.queue_size < 1020 - recipes[0].batch_size


def test_overrides_are_typed_and_dotted():
    recipe = load_recipe("msmclr-nwucla-xview", ["epochs=10", "optimizer.lr_steps=[5]", "amp=bf16",
                                                 "model.encoder.hidden_channels=8"])  # fmt: skip
    assert recipe.epochs == 10 and recipe.optimizer.lr_steps == (5,) and recipe.amp == "bf16"
    assert recipe.model.encoder.hidden_channels == 8
    assert apply_overrides({"a": {"b": 1}}, ["a.c=x"]) == {"a": {"b": 1, "c": "x"}}


def test_errors_name_the_field(tmp_path):
    with pytest.raises(RecipeError, match="optimizer.lrr"):
        load_recipe("msmclr-nwucla-xview", ["optimizer.lrr=0.1"])
    with pytest.raises(RecipeError, match="lr_steps entry 190"):
        load_recipe("msmclr-nwucla-xview", ["optimizer.lr_steps=[190]"])
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
