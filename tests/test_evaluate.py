"""Evaluation protocols: known answers, cached = per-epoch extraction, hand-computed kNN, subsets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import randomize_
from torch import nn

from skeletonzoo.evaluate import (
    MSMCLR_FINETUNE_RECIPE,
    SEMI_FINETUNE_RECIPE,
    CachedFeatures,
    EncoderFeatures,
    FinetuneRecipe,
    KNNConfig,
    LinearRecipe,
    class_balanced_subset,
    finetune,
    fraction_name,
    knn_evaluate,
    knn_scores,
    linear_probe,
    linear_probe_encoder,
    semi_supervised_finetune,
    semi_supervised_linear,
    train_linear_classifier,
)
from skeletonzoo.evaluate._training import epoch_batches, new_classifier, step_lr, summarize, topk_accuracy
from skeletonzoo.evaluate.results import EpochScore
from skeletonzoo.features import extract_features
from skeletonzoo.models import SkeletonEncoder


@pytest.fixture(autouse=True)
def _one_thread():
    """These tensors are tiny: threads only add synchronisation, which on a loaded machine makes
    each op 10-20x slower (measured: 8 s for this module with one thread, 120 s with two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


FAST = LinearRecipe(epochs=20, lr_drops_at=(15,), batch_size=32, eval_interval=1)


def separable(n_per_class: int, num_classes: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class c is a blob around 3 * e_c: linearly separable with a wide margin."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes), n_per_class)
    features = rng.normal(scale=0.3, size=(len(labels), dim)).astype(np.float32)
    features[np.arange(len(labels)), labels] += 3.0
    return features, labels


# --- schedule, batches, init, scoring -----------------------------------------------------------


def test_linear_schedule_is_the_papers_3_then_0_3_from_epoch_80():
    lrs = [step_lr(3.0, e, (80,)) for e in range(100)]
    assert lrs[:80] == [3.0] * 80
    assert all(math.isclose(lr, 0.3) for lr in lrs[80:])


def test_finetune_schedule_matches_hiclr_warmup_and_steps():
    # HiCLR: lr = base * e / 5 for 1-based e < 5, then base * 0.1 ** sum(e >= [30, 55])
    def hiclr(e: int) -> float:
        return 0.1 * e / 5 if e < 5 else 0.1 * 0.1 ** sum(e >= s for s in (30, 55))

    recipe = FinetuneRecipe()
    for epoch in range(recipe.epochs):
        ours = step_lr(recipe.lr, epoch, recipe.lr_drops_at, recipe.gamma, recipe.warmup_epochs)
        assert math.isclose(ours, hiclr(epoch + 1), rel_tol=1e-12), epoch


def test_epoch_batches_drop_last_only_when_a_full_batch_exists():
    g = torch.Generator().manual_seed(0)
    batches = epoch_batches(10, 4, g)
    assert [len(b) for b in batches] == [4, 4]
    assert len(set(torch.cat(batches).tolist())) == 8
    assert [len(b) for b in epoch_batches(10, 4, g, drop_last=False)] == [4, 4, 2]
    small = epoch_batches(3, 128, g)  # a 1 % subset smaller than one batch still trains
    assert sorted(small[0].tolist()) == [0, 1, 2]


def test_epoch_batches_cycle_through_a_small_set():
    batches = epoch_batches(3, 4, torch.Generator().manual_seed(1), epoch_length=12)
    counts = torch.bincount(torch.cat(batches), minlength=3)
    assert counts.tolist() == [4, 4, 4]


def test_epoch_batches_follow_the_generator():
    a = epoch_batches(50, 8, torch.Generator().manual_seed(3))
    b = epoch_batches(50, 8, torch.Generator().manual_seed(3))
    c = epoch_batches(50, 8, torch.Generator().manual_seed(4))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_default_head_init_is_pytorchs_nn_linear_and_leaves_the_global_rng_alone():
    torch.manual_seed(5)
    expected = nn.Linear(16, 4)
    state = torch.get_rng_state()
    head = new_classifier(16, 4, torch.Generator().manual_seed(5))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(head.fc.weight, expected.weight) and torch.equal(head.fc.bias, expected.bias)


def test_reference_head_init_is_normal_0_02_with_zero_bias():
    head = new_classifier(256, 60, torch.Generator().manual_seed(0), "reference")
    assert torch.count_nonzero(head.fc.bias) == 0
    assert abs(head.fc.weight.std().item() - 0.02) < 0.001 and abs(head.fc.weight.mean().item()) < 0.001


def test_topk_accuracy_by_hand():
    scores = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.15, 0.05], [0.2, 0.3, 0.5], [0.3, 0.2, 0.1]])
    labels = torch.tensor([1, 1, 1, 2])
    top1, top2 = topk_accuracy(scores, labels, ks=(1, 2))
    assert top1 == 25.0 and top2 == 75.0  # row 0 hit; rows 1 and 2 hit at rank 2; row 3 misses
    assert topk_accuracy(scores, labels, ks=(5,)) == [100.0]  # k above the classes: all


def test_best_is_highest_top1_and_later_on_ties():
    history = [EpochScore(epoch=e, top1=t, top5=90.0 + e, train_loss=1.0) for e, t in [(5, 50.0), (10, 60.0),
                                                                                      (15, 60.0), (20, 55.0)]]
    last, best = summarize(history)
    assert last.epoch == 20 and best.epoch == 15 and best.top5 == 105.0


# --- linear probe -------------------------------------------------------------------------------


def test_linear_probe_separates_separable_features():
    x_train, y_train = separable(40, 5, 8, seed=0)
    x_test, y_test = separable(20, 5, 8, seed=1)
    probe = linear_probe(x_train, y_train, x_test, y_test, recipe=FAST, seed=0)
    r = probe.result
    assert r.top1_last == 100.0 and r.top1_best == 100.0 and r.top5_last == 100.0
    assert r.num_train == 200 and r.num_test == 100 and len(r.history) == 20
    assert r.history[-1].train_loss < r.history[0].train_loss
    logits = probe.classifier(torch.from_numpy(x_test))
    assert (logits.argmax(1).numpy() == y_test).all()


def test_linear_probe_on_shuffled_labels_is_at_chance():
    x_train, y_train = separable(60, 10, 16, seed=0)
    x_test, y_test = separable(30, 10, 16, seed=1)
    shuffled = np.random.default_rng(0).permutation(y_train)
    r = linear_probe(x_train, shuffled, x_test, y_test, recipe=FAST, seed=0).result
    assert r.top1_last < 25.0  # chance is 10 % (300 test samples: 25 % is > 5 standard deviations)


def test_linear_probe_with_the_papers_recipe_on_separable_features():
    x_train, y_train = separable(30, 4, 8, seed=2)
    x_test, y_test = separable(10, 4, 8, seed=3)
    r = linear_probe(x_train, y_train, x_test, y_test).result  # 100 epochs, lr 3.0, batch 128
    assert r.top1_last == 100.0 and r.epochs == 100
    assert [s.epoch for s in r.history] == list(range(5, 101, 5))  # scored every 5 epochs


def test_linear_probe_is_deterministic_under_the_seed():
    x_train, y_train = separable(20, 3, 8, seed=0)
    x_test, y_test = separable(10, 3, 8, seed=1)
    a = linear_probe(x_train, y_train, x_test, y_test, recipe=FAST, seed=7).classifier
    b = linear_probe(x_train, y_train, x_test, y_test, recipe=FAST, seed=7).classifier
    c = linear_probe(x_train, y_train, x_test, y_test, recipe=FAST, seed=8).classifier
    assert torch.equal(a.fc.weight, b.fc.weight)
    assert not torch.equal(a.fc.weight, c.fc.weight)


def test_linear_probe_rejects_labels_out_of_range():
    x, y = separable(4, 3, 8, seed=0)
    with pytest.raises(ValueError, match="out of range"):
        linear_probe(x, y, x, y, num_classes=2, recipe=FAST)
    with pytest.raises(ValueError, match="labels"):
        linear_probe(x, y[:-1], x, y, recipe=FAST)


@pytest.fixture(scope="module")
def tiny() -> SkeletonEncoder:
    return randomize_(SkeletonEncoder(hidden_channels=4, hidden_dim=16), seed=3).eval()


@pytest.fixture(scope="module")
def clips() -> dict[str, np.ndarray]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 3, 12, 25, 2, generator=g)
    x[::3, ..., 1] = 0  # padded second persons
    labels = torch.arange(60) % 3
    x[:, 0] += labels.view(-1, 1, 1, 1).float()  # some class signal in x
    return {"x_train": x[:40].numpy(), "y_train": labels[:40].numpy(), "x_test": x[40:].numpy(),
            "y_test": labels[40:].numpy()}  # fmt: skip


def test_cached_features_train_the_same_classifier_as_per_epoch_extraction(tiny, clips):
    """The encoder is frozen and the input un-augmented: caching changes nothing, bit for bit."""
    recipe = LinearRecipe(epochs=4, lr_drops_at=(2,), batch_size=16, eval_interval=1)
    args = (tiny, clips["x_train"], clips["y_train"], clips["x_test"], clips["y_test"])
    cached = linear_probe_encoder(*args, stream="motion", recipe=recipe, seed=3, cache=True)
    per_epoch = linear_probe_encoder(*args, stream="motion", recipe=recipe, seed=3, cache=False)
    assert torch.equal(cached.classifier.fc.weight, per_epoch.classifier.fc.weight)
    assert torch.equal(cached.classifier.fc.bias, per_epoch.classifier.fc.bias)
    assert cached.result.history == per_epoch.result.history
    assert not tiny.training


def test_encoder_features_equal_one_extraction(tiny, clips):
    source = EncoderFeatures(tiny, clips["x_train"], stream="bone")
    idx = torch.tensor([5, 0, 17, 3])
    full = extract_features(tiny, clips["x_train"], stream="bone")
    assert torch.equal(source(idx), torch.from_numpy(full[idx.numpy()]))
    assert torch.equal(CachedFeatures(full)(idx), source(idx))


def test_train_linear_classifier_checks_feature_sizes():
    a = CachedFeatures(np.zeros((4, 8), np.float32))
    b = CachedFeatures(np.zeros((4, 6), np.float32))
    with pytest.raises(ValueError, match="D=8"):
        train_linear_classifier(a, np.arange(4) % 2, b, np.arange(4) % 2, recipe=FAST)


# --- kNN ----------------------------------------------------------------------------------------

# test [1, 0]; training: class 0 at [2, 0] (cos 1.0), class 1 at [0.6, 0.8] and [0.6, -0.8] (cos 0.6
# each), class 2 at [-1, 0] (cos -1)
KNN_TRAIN = torch.tensor([[2.0, 0.0], [0.6, 0.8], [0.6, -0.8], [-1.0, 0.0]])
KNN_LABELS = torch.tensor([0, 1, 1, 2])
KNN_TEST = torch.tensor([[1.0, 0.0]])


def test_knn_similarity_weighted_scores_by_hand():
    scores = knn_scores(KNN_TRAIN, KNN_LABELS, KNN_TEST, num_classes=3, config=KNNConfig(k=3))
    assert math.isclose(scores[0, 0].item(), math.exp(1.0 / 0.07), rel_tol=1e-6)
    assert math.isclose(scores[0, 1].item(), 2 * math.exp(0.6 / 0.07), rel_tol=1e-6)
    assert scores[0, 2].item() == -math.inf  # not among the 3 neighbours
    # one very close neighbour outweighs two far ones at tau 0.07, not at tau 10
    assert scores.argmax().item() == 0
    hot = knn_scores(KNN_TRAIN, KNN_LABELS, KNN_TEST, num_classes=3, config=KNNConfig(k=3, temperature=10.0))
    assert hot.argmax().item() == 1  # exp(0.1) = 1.105 < 2 exp(0.06) = 2.12


def test_knn_majority_vote_and_its_tie_break():
    majority = KNNConfig(k=3, weighting="majority")
    scores = knn_scores(KNN_TRAIN, KNN_LABELS, KNN_TEST, num_classes=3, config=majority)
    assert scores.argmax().item() == 1  # two votes beat one
    # k=2: class 0 (cos 1.0) and class 1 (cos 0.6) have one vote each; the closer class wins
    tie = knn_scores(KNN_TRAIN, KNN_LABELS, KNN_TEST, num_classes=3, config=KNNConfig(k=2, weighting="majority"))
    assert tie.argmax().item() == 0


def test_knn_evaluate_accuracy_and_unvoted_classes_never_hit():
    result = knn_evaluate(KNN_TRAIN, KNN_LABELS, torch.cat([KNN_TEST, -KNN_TEST]), np.array([0, 2]),
                          config=KNNConfig(k=1))  # fmt: skip
    assert result.top1 == 100.0  # [1, 0] -> class 0; [-1, 0] -> class 2
    # k=1 on a test point whose class is not its nearest neighbour: top-5 cannot rescue it
    miss = knn_evaluate(KNN_TRAIN, KNN_LABELS, KNN_TEST, np.array([2]), config=KNNConfig(k=1))
    assert miss.top1 == 0.0 and miss.top5 == 0.0


def test_knn_is_scale_invariant_and_k_is_clipped():
    x_train, y_train = separable(10, 4, 8, seed=0)
    x_test, y_test = separable(5, 4, 8, seed=1)
    a = knn_evaluate(x_train, y_train, x_test, y_test, config=KNNConfig(k=500))
    b = knn_evaluate(x_train * 1e-6, y_train, x_test * 1e3, y_test, config=KNNConfig(k=500))
    assert a.top1 == b.top1 == 100.0


# --- semi-supervised subsets --------------------------------------------------------------------


def test_class_balanced_subset_counts_per_class():
    labels = np.repeat([0, 1, 2, 3, 4], [100, 50, 25, 7, 1])
    subset = class_balanced_subset(labels, 0.1, seed=0)
    # round half to even as in the original (round(2.5) = 2); at least one sample per class
    assert np.bincount(labels[subset]).tolist() == [10, 5, 2, 1, 1]
    assert (np.diff(subset) > 0).all()
    one_percent = class_balanced_subset(labels, 0.01, seed=0)
    assert np.bincount(labels[one_percent]).tolist() == [1, 1, 1, 1, 1]
    assert len(class_balanced_subset(labels, 1.0, seed=0)) == len(labels)


def test_class_balanced_subset_is_seeded():
    labels = np.arange(1000) % 10
    a = class_balanced_subset(labels, 0.1, seed=1)
    assert np.array_equal(a, class_balanced_subset(labels, 0.1, seed=1))
    assert not np.array_equal(a, class_balanced_subset(labels, 0.1, seed=2))
    with pytest.raises(ValueError, match="fraction"):
        class_balanced_subset(labels, 10.0)


def test_fraction_names():
    assert [fraction_name(f) for f in (0.01, 0.1, 0.005, 1.0)] == ["semi1", "semi10", "semi0.5", "semi100"]


def test_semi_supervised_linear_uses_only_the_subset():
    x_train, y_train = separable(50, 4, 8, seed=0)
    x_test, y_test = separable(10, 4, 8, seed=1)
    probe = semi_supervised_linear(x_train, y_train, x_test, y_test, 0.1, num_classes=4, recipe=FAST, seed=0)
    r = probe.result
    assert r.num_train == 20 and r.settings["subset_size"] == 20 and r.protocol == "semi10"
    assert r.top1_last == 100.0
    # the same probe trained directly on the subset
    subset = class_balanced_subset(y_train, 0.1, seed=0)
    direct = linear_probe(x_train[subset], y_train[subset], x_test, y_test, num_classes=4, recipe=FAST, seed=0)
    assert torch.equal(direct.classifier.fc.weight, probe.classifier.fc.weight)


# --- fine-tuning --------------------------------------------------------------------------------


def moving_clips(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class 0 drifts along +x over time, class 1 along -x: invisible to no encoder."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    t = torch.linspace(0, 1, 12).view(1, 12, 1)
    x = torch.randn(n, 3, 12, 25, 1, generator=g) * 0.05
    x[:, 0] += ((1 - 2 * labels.float()).view(-1, 1, 1) * t).unsqueeze(-1)
    return x.numpy(), labels.numpy()


def test_finetune_moves_the_encoder_and_learns_a_separable_task():
    encoder = randomize_(SkeletonEncoder(hidden_channels=4, hidden_dim=16), seed=1).eval()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    x_train, y_train = moving_clips(16, seed=0)
    x_test, y_test = moving_clips(16, seed=1)
    recipe = FinetuneRecipe(epochs=5, lr=0.05, warmup_epochs=0, lr_drops_at=(), batch_size=4, eval_interval=1)
    rng = torch.get_rng_state()
    tuned = finetune(encoder, x_train, y_train, x_test, y_test, recipe=recipe, seed=0)
    assert torch.equal(torch.get_rng_state(), rng)  # dropout drew from a forked RNG
    r = tuned.result
    assert r.history[0].top1 <= 75.0 and r.top1_last == 100.0  # from chance-level to solved
    assert r.history[-1].train_loss < 0.5 * r.history[0].train_loss
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())  # caller's copy untouched
    moved = [k for k, v in tuned.encoder.state_dict().items() if not torch.equal(before[k], v)]
    assert any(k.startswith("blocks.0.") for k in moved) and "data_bn.running_mean" in moved  # BN updated
    assert not tuned.encoder.training


def test_every_protocol_refuses_labels_out_of_range_before_training(tiny, clips):
    """One message for linear, kNN and fine-tuning (fine-tuning and kNN used to fail deep inside
    cross-entropy and scatter_add with an index error)."""
    feats = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])
    for run in (
        lambda: knn_evaluate(feats, labels, feats, labels, num_classes=2),
        lambda: finetune(tiny, clips["x_train"], clips["y_train"], clips["x_test"], clips["y_test"], num_classes=2),
    ):
        with pytest.raises(ValueError, match=r"train label 2 is out of range for num_classes=2"):
            run()
    test_only = np.array([0, 1, 0, 1, 0, 4])
    with pytest.raises(ValueError, match=r"test label 4 is out of range for num_classes=3"):
        knn_evaluate(feats, labels, feats, test_only, num_classes=3)


def test_msmclr_finetune_recipe_trains_the_encoder_in_eval_mode():
    """MsMCLR's released fine-tuning keeps the encoder in eval mode: BN running statistics stay,
    no dropout, yet every weight trains (and the released recipe's values are the constant's)."""
    from skeletonzoo.evaluate import MSMCLR_FINETUNE_RECIPE

    assert (MSMCLR_FINETUNE_RECIPE.lr, MSMCLR_FINETUNE_RECIPE.epochs, MSMCLR_FINETUNE_RECIPE.lr_drops_at) == (
        3.0, 100, (80,))  # fmt: skip
    assert (MSMCLR_FINETUNE_RECIPE.head_init, MSMCLR_FINETUNE_RECIPE.nesterov, MSMCLR_FINETUNE_RECIPE.weight_decay,
            MSMCLR_FINETUNE_RECIPE.warmup_epochs, MSMCLR_FINETUNE_RECIPE.batch_size) == ("reference", False, 0.0, 0, 64)
    encoder = randomize_(SkeletonEncoder(hidden_channels=4, hidden_dim=16), seed=1).eval()
    x_train, y_train = moving_clips(16, seed=0)
    x_test, y_test = moving_clips(8, seed=1)
    recipe = MSMCLR_FINETUNE_RECIPE.model_copy(update={"epochs": 3, "lr": 0.05, "batch_size": 4, "lr_drops_at": ()})
    tuned = finetune(encoder, x_train, y_train, x_test, y_test, recipe=recipe, seed=0)
    before, after = encoder.state_dict(), tuned.encoder.state_dict()
    assert torch.equal(before["data_bn.running_mean"], after["data_bn.running_mean"])  # BN statistics kept
    assert not torch.equal(before["blocks.0.gcn.conv.weight"], after["blocks.0.gcn.conv.weight"])  # weights train
    again = finetune(encoder, x_train, y_train, x_test, y_test, recipe=recipe, seed=0)
    assert again.result.history == tuned.result.history
    assert "encoder in eval mode (BN on running statistics, no dropout)" in recipe.describe()
    train_mode = finetune(encoder, x_train, y_train, x_test, y_test,
                          recipe=recipe.model_copy(update={"encoder_mode": "train"}), seed=0)  # fmt: skip
    assert not torch.equal(before["data_bn.running_mean"], train_mode.encoder.state_dict()["data_bn.running_mean"])


def test_semi_supervised_finetune_trains_on_the_subset_with_full_length_epochs():
    encoder = randomize_(SkeletonEncoder(hidden_channels=4, hidden_dim=16), seed=1).eval()
    x_train, y_train = moving_clips(40, seed=0)
    x_test, y_test = moving_clips(8, seed=1)
    recipe = FinetuneRecipe(epochs=1, epoch_length=16, batch_size=8, warmup_epochs=0)
    tuned = semi_supervised_finetune(encoder, x_train, y_train, x_test, y_test, 0.1, recipe=recipe, seed=0)
    r = tuned.result
    assert r.num_train == 4 and r.settings["subset_size"] == 4 and r.settings["epoch_length"] == 16
    assert r.protocol == "semi10_finetune" and r.settings["mode"] == "finetune"
    again = semi_supervised_finetune(encoder, x_train, y_train, x_test, y_test, 0.1, recipe=recipe, seed=0)
    assert torch.equal(again.classifier.fc.weight, tuned.classifier.fc.weight)  # seeded end to end
    assert all(torch.equal(a, b) for a, b in zip(again.encoder.parameters(), tuned.encoder.parameters()))
    # the same fine-tuning run directly on the subset's clips and labels, paired
    subset = class_balanced_subset(y_train, 0.1, seed=0)
    direct = finetune(encoder, x_train[subset], y_train[subset], x_test, y_test, recipe=recipe, seed=0)
    assert direct.result.history == r.history
    assert torch.equal(direct.classifier.fc.weight, tuned.classifier.fc.weight)
    assert all(torch.equal(a, b) for a, b in zip(direct.encoder.parameters(), tuned.encoder.parameters()))


def test_finetune_recipe_changes_are_validated():
    """with_changes is how the CLI lays options over a recipe: changes are checked like a new recipe."""
    from pydantic import ValidationError

    changed = MSMCLR_FINETUNE_RECIPE.with_changes(epochs=3, lr_drops_at=[1])
    assert (changed.epochs, changed.lr_drops_at, changed.lr) == (3, (1,), MSMCLR_FINETUNE_RECIPE.lr)
    assert MSMCLR_FINETUNE_RECIPE.epochs == 100  # the base is untouched
    with pytest.raises(ValidationError, match="epochs"):
        MSMCLR_FINETUNE_RECIPE.with_changes(epochs=0)
    with pytest.raises(ValidationError, match="epoch_lenght"):
        MSMCLR_FINETUNE_RECIPE.with_changes(epoch_lenght=5)


def test_semi_finetune_recipe_is_hiclrs():
    def hiclr(e: int) -> float:  # config/gcn_ntu60/semi: warm-up 5, step [15, 30], 60 epochs
        return 0.1 * e / 5 if e < 5 else 0.1 * 0.1 ** sum(e >= s for s in (15, 30))

    r = SEMI_FINETUNE_RECIPE
    assert r.epochs == 60 and r.batch_size == 64 and r.eval_interval == 3 and r.weight_decay == 1e-4
    for epoch in range(r.epochs):
        assert math.isclose(step_lr(r.lr, epoch, r.lr_drops_at, r.gamma, r.warmup_epochs), hiclr(epoch + 1))
