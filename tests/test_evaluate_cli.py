"""``skeletonzoo-eval`` end to end: tiny prepared directories and checkpoints, and real NW-UCLA clips."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import randomize_, shared_file
from test_evaluate import _one_thread  # noqa: F401  (autouse fixture: tiny tensors, one thread)

from skeletonzoo._machine import hardware
from skeletonzoo.checkpoint import save_checkpoint
from skeletonzoo.cli.evaluate import main
from skeletonzoo.data import PreparedSplit, write_prepared
from skeletonzoo.evaluate import KNNConfig, LinearRecipe, knn_evaluate, linear_probe, load_eval_model
from skeletonzoo.features import extract_features
from skeletonzoo.models import SkeletonEncoder

PREPROCESS = {"name": "original-position", "layout": "ntu25", "num_frames": 12}


def _split(n: int, seed: int) -> PreparedSplit:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    x = torch.randn(n, 3, 12, 25, 2, generator=g) * 0.3
    x[::2, ..., 1] = 0
    x[:, 0] += labels.view(-1, 1, 1, 1).float()
    return PreparedSplit(x.numpy(), labels.numpy(), [f"clip{seed}_{i}" for i in range(n)])


@pytest.fixture()
def data_dir(tmp_path):
    root = tmp_path / "toy"
    meta = write_prepared(root, {"train": _split(30, 0), "test": _split(15, 1)}, dataset="toy", benchmark="xsub",
                          layout="ntu25", num_classes=3, preprocessing=PREPROCESS)  # fmt: skip
    assert meta.source["copies_of_train"] == {"test": {}}  # checked, none
    return root


@pytest.fixture()
def encoder() -> SkeletonEncoder:
    return randomize_(SkeletonEncoder(hidden_channels=4, hidden_dim=16), seed=2).eval()


@pytest.fixture()
def checkpoint(tmp_path, encoder):
    path = tmp_path / "tiny.safetensors"
    save_checkpoint(path, {"joint": encoder}, stream="motion", preprocessing=PREPROCESS)
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_linear_knn_semi_end_to_end_equal_the_library(capsys, tmp_path, data_dir, checkpoint, encoder):
    out_json = tmp_path / "metrics.json"
    argv = [str(checkpoint), "--data", str(data_dir), "--protocol", "linear", "knn", "semi", "--device", "cpu",
            "--linear-epochs", "6", "--linear-lr-drops", "4", "--eval-interval", "2", "--k", "5",
            "--json", str(out_json)]  # fmt: skip
    rc, out, err = _run(capsys, *argv)
    assert rc == 0, err
    report = json.loads(out_json.read_text())
    metrics = {m["name"]: m for m in report["metrics"]}
    expected = {f"{p}_top{k}_{w}" for p in ("linear", "semi1", "semi10") for k in (1, 5) for w in ("last", "best")}
    assert set(metrics) == expected | {"knn_top1", "knn_top5"}
    for m in metrics.values():
        assert set(m) == {"name", "value", "protocol", "dataset", "split", "command", "machine"}
        assert m["dataset"] == "toy" and m["split"].startswith("xsub") and 0.0 <= m["value"] <= 100.0
        assert m["command"].startswith("skeletonzoo-eval ") and "--k 5" in m["command"]
    assert "lr 3 momentum 0.9" in metrics["linear_top1_last"]["protocol"]
    assert "k=5" in metrics["knn_top1"]["protocol"]
    assert "linear_top1_last" in out and "knn_top1" in out

    # the same numbers from the library, on the checkpoint's motion stream
    train, test = _split(30, 0), _split(15, 1)
    f_train = extract_features(encoder, train.positions, stream="motion")
    f_test = extract_features(encoder, test.positions, stream="motion")
    recipe = LinearRecipe(epochs=6, lr_drops_at=(4,), eval_interval=2)
    probe = linear_probe(f_train, train.labels, f_test, test.labels, num_classes=3, recipe=recipe, seed=0).result
    assert metrics["linear_top1_last"]["value"] == round(probe.top1_last, 4)
    assert metrics["linear_top5_best"]["value"] == round(probe.top5_best, 4)
    knn = knn_evaluate(f_train, train.labels, f_test, test.labels, num_classes=3, config=KNNConfig(k=5))
    assert metrics["knn_top1"]["value"] == round(knn.top1, 4)
    assert report["results"]["semi10"]["settings"]["subset_size"] == 3  # round(0.1 * 10) = 1 per class
    assert report["results"]["linear"]["history"][-1]["epoch"] == 6
    assert report["data"]["train"]["fingerprint"] and report["stream"] == "motion"
    # the machine: CPU with torch's vector extension and the thread count the probes ran on
    assert report["machine"] == hardware("cpu")
    assert f"({torch.backends.cpu.get_cpu_capability()})" in report["machine"]
    assert f"{torch.get_num_threads()} torch threads" in report["machine"]
    assert {m["machine"] for m in report["metrics"]} == {report["machine"]}  # each record, for the manifest


def test_collapsed_features_are_warned_about(capsys, tmp_path, data_dir, encoder):
    """An encoder that maps every clip to the same features (here: its input BatchNorm zeroed) is
    named in one warning line before the protocols run, and in the report's notes."""
    from skeletonzoo.evaluate.run import COLLAPSED_SPREAD, feature_spread

    assert feature_spread(np.array([[1.0, 0.0], [-1.0, 0.0]])) == 1.0
    assert feature_spread(np.array([[3.0, 4.0], [3.0, 4.0]])) == 0.0
    path = tmp_path / "trained.safetensors"
    for name, zeroed in (("trained", False), ("collapsed", True)):
        if zeroed:
            torch.nn.init.zeros_(encoder.data_bn.weight)
            torch.nn.init.zeros_(encoder.data_bn.bias)
        path = tmp_path / f"{name}.safetensors"
        save_checkpoint(path, {"joint": encoder}, stream="motion", preprocessing=PREPROCESS)
        out_json = tmp_path / f"{name}.json"
        rc, _, err = _run(capsys, str(path), "--data", str(data_dir), "--protocol", "knn", "--json", str(out_json))
        assert rc == 0, err
        notes = json.loads(out_json.read_text())["notes"]
        warned = [line for line in err.splitlines() if line.startswith("skeletonzoo-eval: warning: the train features")]
        assert len(warned) == int(zeroed) and len(notes) == int(zeroed), (name, err, notes)
    assert "barely differ between clips (their spread is " in notes[0]  # float rounding: ~1e-7
    assert COLLAPSED_SPREAD < 3e-3  # below a random encoder's spread (the constant's comment)
    # non-finite features are named as such (not as a collapse); one clip has no spread to judge
    from types import SimpleNamespace

    from skeletonzoo.evaluate.run import _warn_if_collapsed
    from skeletonzoo.exceptions import CollapsedFeaturesWarning

    run = SimpleNamespace(notes=[])
    features = np.random.default_rng(0).normal(size=(4, 8))
    features[2, 3] = np.nan
    with pytest.warns(CollapsedFeaturesWarning, match="1 of the 4 train clips have NaN or inf features"):
        _warn_if_collapsed(run, features)  # type: ignore[arg-type]
    _warn_if_collapsed(run, np.ones((1, 8)))  # type: ignore[arg-type]
    _warn_if_collapsed(run, features[[0, 1, 3]])  # type: ignore[arg-type]
    assert len(run.notes) == 1


def test_test_samples_copying_training_samples_are_named_and_can_be_left_out(capsys, tmp_path, checkpoint, encoder):
    """Test samples equal to training samples bit for bit (NW-UCLA's release has 95 of 464) are
    listed by the preparation, scored with a warning by default, and left out with --test-copies drop."""
    from skeletonzoo.data.prepared import read_prepared_meta
    from skeletonzoo.exceptions import DuplicateSampleWarning

    train, test = _split(30, 0), _split(15, 1)
    copied, sources = [2, 7, 11], [5, 0, 5]
    test.positions[copied], test.labels[copied] = train.positions[sources], train.labels[sources]
    test.positions[3] = np.nextafter(train.positions[9], np.inf)  # one ulp away: not a copy
    root = tmp_path / "copies"
    expected = {"clip1_2": "clip0_5", "clip1_7": "clip0_0", "clip1_11": "clip0_5"}
    with pytest.warns(DuplicateSampleWarning, match=r"3 of the 15 'test' samples are exact copies of 'train' "
                      r"samples \(clip1_2 = clip0_5, clip1_7 = clip0_0, clip1_11 = clip0_5\)"):  # fmt: skip
        meta = write_prepared(root, {"train": train, "test": test}, dataset="toy", benchmark="xsub",
                              layout="ntu25", num_classes=3, preprocessing=PREPROCESS)  # fmt: skip
    assert meta.source["copies_of_train"] == read_prepared_meta(root).source["copies_of_train"] == {"test": expected}

    reports = {}
    for mode in ("keep", "drop"):
        out_json = tmp_path / f"{mode}.json"
        rc, _, err = _run(capsys, str(checkpoint), "--data", str(root), "--protocol", "knn", "--k", "5",
                          "--test-copies", mode, "--json", str(out_json))  # fmt: skip
        assert rc == 0, err
        reports[mode] = json.loads(out_json.read_text())
        warned = "skeletonzoo-eval: warning: 3 of the 15 test samples are exact copies of training samples"
        assert (warned in err) == (mode == "keep"), err
    keep, drop = reports["keep"], reports["drop"]
    assert keep["results"]["knn"]["num_test"] == 15 and drop["results"]["knn"]["num_test"] == 12
    assert keep["metrics"][0]["split"].endswith("test on split 'test', 15, 3 of them exact copies of training samples)")
    assert drop["metrics"][0]["split"].endswith(
        "test on split 'test', 12 of its 15: the 3 exact copies of training samples left out)"
    )
    assert "--test-copies drop" in drop["metrics"][0]["command"] and "left out" in drop["notes"][0]
    assert drop["data"]["test"]["test_copies"] == "drop"
    # what was scored: the other 12 samples, as the library scores them
    rows = [i for i in range(15) if i not in copied]
    f_train = extract_features(encoder, train.positions, stream="motion")
    f_test = extract_features(encoder, test.positions[rows], stream="motion")
    knn = knn_evaluate(f_train, train.labels, f_test, test.labels[rows], num_classes=3, config=KNNConfig(k=5))
    assert {m["name"]: m["value"] for m in drop["metrics"]} == {"knn_top1": round(knn.top1, 4),
                                                                "knn_top5": round(knn.top5, 4)}  # fmt: skip


def test_finetune_protocol(capsys, tmp_path, data_dir, checkpoint, encoder):
    out_json = tmp_path / "ft.json"
    rc, _, err = _run(capsys, str(checkpoint), "--data", str(data_dir), "--protocol", "finetune",
                      "--finetune-epochs", "2", "--json", str(out_json))  # fmt: skip
    assert rc == 0, err
    report = json.loads(out_json.read_text())
    assert [m["name"] for m in report["metrics"]] == [
        "finetune_top1_last", "finetune_top1_best", "finetune_top5_last", "finetune_top5_best"
    ]  # fmt: skip
    assert "train mode (BN updating" in report["metrics"][0]["protocol"]
    assert report["results"]["finetune"]["epochs"] == 2
    # the same numbers from the library, on the checkpoint's motion stream
    from skeletonzoo.evaluate import FinetuneRecipe, finetune

    train, test = _split(30, 0), _split(15, 1)
    tuned = finetune(encoder, train.positions, train.labels, test.positions, test.labels, stream="motion",
                     num_classes=3, recipe=FinetuneRecipe(epochs=2), seed=0).result  # fmt: skip
    values = {m["name"]: m["value"] for m in report["metrics"]}
    assert values["finetune_top1_last"] == round(tuned.top1_last, 4)
    assert values["finetune_top5_best"] == round(tuned.top5_best, 4)


def test_semi_supervised_finetuning_takes_the_finetune_options(capsys, tmp_path, data_dir, checkpoint, encoder):
    """--finetune-* and --eval-interval set semi-supervised fine-tuning's recipe too (they were ignored:
    60 epochs ran whatever was asked), over its own defaults, each epoch as long as the training split."""
    out_json = tmp_path / "semi.json"
    rc, _, err = _run(capsys, str(checkpoint), "--data", str(data_dir), "--protocol", "semi", "--semi-mode",
                      "finetune", "--semi-fraction", "0.5", "--finetune-epochs", "2", "--eval-interval", "1",
                      "--json", str(out_json))  # fmt: skip
    assert rc == 0, err
    result = json.loads(out_json.read_text())["results"]["semi50_finetune"]
    assert result["epochs"] == 2 and [h["epoch"] for h in result["history"]] == [1, 2]
    settings = result["settings"]
    assert (settings["lr_drops_at"], settings["epoch_length"]) == ([14, 29], 30)  # its defaults, 30 clips
    from skeletonzoo.evaluate import FinetuneRecipe, semi_supervised_finetune

    train, test = _split(30, 0), _split(15, 1)
    recipe = FinetuneRecipe(epochs=2, lr_drops_at=(14, 29), eval_interval=1, epoch_length=30)
    tuned = semi_supervised_finetune(encoder, train.positions, train.labels, test.positions, test.labels, 0.5,
                                     stream="motion", num_classes=3, recipe=recipe, seed=0).result  # fmt: skip
    assert result["top1_last"] == tuned.top1_last and result["top5_best"] == tuned.top5_best


def test_finetune_recipe_option_takes_msmclrs_released_recipe(capsys, tmp_path, data_dir, checkpoint):
    out_json = tmp_path / "ft.json"
    rc, _, err = _run(capsys, str(checkpoint), "--data", str(data_dir), "--protocol", "finetune",
                      "--finetune-recipe", "msmclr", "--finetune-epochs", "1", "--json", str(out_json))  # fmt: skip
    assert rc == 0, err
    settings = json.loads(out_json.read_text())["results"]["finetune"]["settings"]
    assert (settings["encoder_mode"], settings["lr"], settings["head_init"], settings["epochs"]) == (
        "eval", 3.0, "reference", 1)  # fmt: skip


def test_random_init_floor_is_seeded(capsys, tmp_path, data_dir):
    values = []
    for name, seed in (("a", "3"), ("b", "3")):
        out_json = tmp_path / f"{name}.json"
        rc, _, err = _run(capsys, "--random-init", "--data", str(data_dir), "--protocol", "knn", "--seed", seed,
                          "--json", str(out_json))  # fmt: skip
        assert rc == 0, err
        report = json.loads(out_json.read_text())
        values.append([m["value"] for m in report["metrics"]])
        assert report["model"] == "random-init (reference init, seed 3)" and report["stream"] == "joint"
    assert values[0] == values[1]
    a = load_eval_model(None, random_init=True, seed=3).encoder.state_dict()
    b = load_eval_model(None, random_init=True, seed=4).encoder.state_dict()
    assert not torch.equal(a["blocks.0.gcn.conv.weight"], b["blocks.0.gcn.conv.weight"])
    # the original pretraining's init: N(0, 0.02) convolutions
    assert abs(a["blocks.5.tcn.conv.weight"].std().item() - 0.02) < 0.002
    # PyTorch's default init: Kaiming-uniform, bound 1/sqrt(fan_in) = 1/sqrt(32 * 9) for block 5
    c = load_eval_model(None, random_init=True, init="pytorch", seed=3).encoder.state_dict()
    d = load_eval_model(None, random_init=True, init="pytorch", seed=3).encoder.state_dict()
    assert torch.equal(c["blocks.5.tcn.conv.weight"], d["blocks.5.tcn.conv.weight"])
    bound = c["blocks.5.tcn.conv.weight"].abs().max().item()
    assert 0.9 / (32 * 9) ** 0.5 < bound <= 1 / (32 * 9) ** 0.5


def test_random_init_takes_an_unpublished_names_architecture(monkeypatch):
    """--random-init with a zoo name needs its architecture, not its weights: a name whose weights
    are not published (every NTU entry) works, offline, and gives that architecture at the seed."""
    from skeletonzoo.models import reference_init_
    from skeletonzoo.registry import get_spec

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    name = "msmclr-ntu60-xsub"
    got = load_eval_model(name, random_init=True, seed=3)
    assert got.description == f"random-init (reference init, seed 3) with the architecture of {name}"
    config = get_spec(name).components["joint"].config
    assert got.encoder.config == config
    expected = reference_init_(SkeletonEncoder(config), torch.Generator().manual_seed(3)).state_dict()
    for key, value in got.encoder.state_dict().items():
        assert torch.equal(value, expected[key]), key
    with pytest.raises(ValueError, match="drop --revision"):
        load_eval_model(name, random_init=True, revision="abcdef1")


def test_refusals_say_what_to_do(capsys, tmp_path, data_dir, checkpoint, encoder):
    rc, _, err = _run(capsys, "--data", str(data_dir))
    assert rc == 2 and "--random-init" in err

    other = tmp_path / "other.safetensors"
    save_checkpoint(other, {"joint": encoder}, preprocessing={**PREPROCESS, "num_frames": 50})
    rc, _, err = _run(capsys, str(other), "--data", str(data_dir), "--protocol", "knn")
    assert rc == 2 and "num_frames" in err and "--ignore-preprocessing" in err
    out_json = tmp_path / "ignored.json"
    rc, _, err = _run(capsys, str(other), "--data", str(data_dir), "--protocol", "knn", "--ignore-preprocessing",
                      "--json", str(out_json))  # fmt: skip
    assert rc == 0, err
    assert "evaluated anyway" in json.loads(out_json.read_text())["notes"][0]
    # the --json file is checked before any work: an earlier report is kept, a bad path fails fast
    rc, out, err = _run(capsys, str(other), "--data", str(data_dir), "--protocol", "knn",
                        "--ignore-preprocessing", "--json", str(out_json))  # fmt: skip
    assert rc == 2 and "already exists; pass --overwrite" in err and "knn_top1" not in out
    assert "evaluated anyway" in json.loads(out_json.read_text())["notes"][0]
    rc, out, err = _run(capsys, str(checkpoint), "--data", str(data_dir), "--protocol", "knn",
                        "--json", str(out_json / "report.json"))  # fmt: skip
    assert rc == 2 and "cannot create the folder of the output" in err and "knn_top1" not in out

    coco = tmp_path / "coco"
    split = PreparedSplit(np.zeros((3, 3, 12, 17, 1), np.float32), np.arange(3), ["a", "b", "c"])
    write_prepared(coco, {"train": split, "test": split}, dataset="toy", benchmark="x", layout="coco17",
                   num_classes=3)  # fmt: skip
    rc, _, err = _run(capsys, str(checkpoint), "--data", str(coco))
    assert rc == 2 and "layout 'coco17'" in err and "'ntu25'" in err

    not_a_checkpoint = tmp_path / "x.safetensors"
    not_a_checkpoint.write_bytes(b"not safetensors")
    rc, _, err = _run(capsys, str(not_a_checkpoint), "--data", str(data_dir))
    assert rc == 2 and "safetensors" in err

    rc, _, err = _run(capsys, str(checkpoint), "--data", str(tmp_path / "missing"))
    assert rc == 2 and "not a prepared dataset" in err and "skeletonzoo prepare" in err
    (tmp_path / "unfinished").mkdir()
    rc, _, err = _run(capsys, str(checkpoint), "--data", str(tmp_path / "unfinished"))
    assert rc == 2 and "no meta.json" in err and "run it again" in err


@pytest.mark.slow
def test_real_nwucla_random_init_knn(capsys, tmp_path):
    """A few hundred real clips through `skeletonzoo-eval`: the random-init floor's kNN."""
    from skeletonzoo.data.nwucla import NWUCLA_PREPROCESS, prepare_nwucla, read_nwucla_npz

    splits = prepare_nwucla(read_nwucla_npz(shared_file("data/nwucla/nwucla.npz")))
    small = {
        "train": PreparedSplit(splits["train"].positions[::6], splits["train"].labels[::6], splits["train"].names[::6]),
        "test": PreparedSplit(splits["test"].positions[::4], splits["test"].labels[::4], splits["test"].names[::4]),
    }
    assert all(len(np.unique(s.labels)) == 10 for s in small.values())
    root = tmp_path / "nwucla"
    write_prepared(root, small, dataset="nwucla", benchmark="xview", layout="ntu25", num_classes=10,
                   preprocessing=NWUCLA_PREPROCESS.to_dict())  # fmt: skip
    out_json = tmp_path / "nwucla.json"
    rc, _, err = _run(capsys, "--random-init", "--data", str(root), "--protocol", "knn", "--json", str(out_json))
    assert rc == 0, err
    report = json.loads(out_json.read_text())
    assert report["data"]["train"]["num_samples"] == 170 and report["data"]["test"]["num_samples"] == 116
    got = {m["name"]: m["value"] for m in report["metrics"]}
    encoder = load_eval_model(None, random_init=True, seed=0).encoder
    f_train = extract_features(encoder, small["train"].positions)
    f_test = extract_features(encoder, small["test"].positions)
    expected = knn_evaluate(f_train, small["train"].labels, f_test, small["test"].labels, num_classes=10)
    assert got["knn_top1"] == round(expected.top1, 4) and got["knn_top5"] == round(expected.top5, 4)
    # the protocol itself on real data: kNN on the raw normalised positions is far above chance (10 %)
    raw = knn_evaluate(small["train"].positions.reshape(170, -1), small["train"].labels,
                       small["test"].positions.reshape(116, -1), small["test"].labels)  # fmt: skip
    assert raw.top1 > 25.0


def test_revision_selects_an_earlier_published_entry():
    """--revision / load_eval_model(revision=) evaluates the entry it names, not the newest."""
    from safetensors.torch import load_file

    from skeletonzoo.manifest import PACKAGE_DIR
    from skeletonzoo.registry import model_info

    weights = model_info("msmclr-nwucla-xview").weights
    if len(weights) < 2:
        pytest.skip("msmclr-nwucla-xview has a single published entry")
    for entry in (weights[0], weights[-1]):
        model = load_eval_model("msmclr-nwucla-xview", revision=entry.sha256[:12], layout="ntu25")
        stored = load_file(str(PACKAGE_DIR / entry.sources.bundled))
        ours = model.encoder.state_dict()
        joint = {k.removeprefix("joint."): v for k, v in stored.items() if k.startswith("joint.")}
        common = set(joint) & set(ours)  # the file also holds the projection head
        assert len(common) == len(ours)
        for key in common:
            assert torch.equal(ours[key].to(joint[key].dtype), joint[key]), key
        assert entry.sha256[:12] in model.description
    a = load_eval_model("msmclr-nwucla-xview", revision=weights[0].sha256[:12]).encoder.state_dict()
    b = load_eval_model("msmclr-nwucla-xview").encoder.state_dict()
    assert not torch.equal(a["data_bn.weight"], b["data_bn.weight"])  # the default is the newest, another file


def test_recorded_command_names_the_threads_and_keeps_the_process_thread_count(capsys, tmp_path, data_dir, checkpoint):
    before = torch.get_num_threads()
    # an abbreviation argparse accepts counts as typed
    cases = (([], f"--threads {before}"), (["--threads", "2"], "--threads 2"), (["--thr", "2"], "--thr 2"))
    for typed, expected in cases:
        out_json = tmp_path / "t.json"
        rc, _, err = _run(capsys, str(checkpoint), "--data", str(data_dir), "--protocol", "knn", *typed,
                          "--json", str(out_json), "--overwrite")  # fmt: skip
        assert rc == 0, err
        command = json.loads(out_json.read_text())["metrics"][0]["command"]
        assert command.count("--thr") == 1 and expected in command
        assert "--revision" not in command  # a checkpoint path names its weights itself
        assert torch.get_num_threads() == before
    with pytest.raises(SystemExit) as exit_info:
        main([str(checkpoint), "--data", str(data_dir), "--threads", "0"])
    assert exit_info.value.code == 2 and "--threads must be at least 1, not 0" in capsys.readouterr().err


def test_recorded_command_pins_the_weights_of_a_zoo_name():
    from skeletonzoo.cli.evaluate import recorded_command

    typed = ["msmclr-nwucla-xview", "--data", "data/nwucla", "--protocol", "linear"]
    assert recorded_command(typed, revision="c5a43b40d163", threads=2) == (
        "skeletonzoo-eval msmclr-nwucla-xview --data data/nwucla --protocol linear --revision c5a43b40d163 --threads 2"
    )
    # what was typed is kept, not repeated
    kept = recorded_command([*typed, "--revision=001c04", "--threads", "1"], revision=None, threads=None)
    assert kept.endswith("--revision=001c04 --threads 1") and kept.count("--revision") == kept.count("--threads") == 1
