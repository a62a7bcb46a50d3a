"""Bad input to the command-line tools ends in one line that says what was wrong, where, and
what to do (exit status 2), never in a traceback."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pretrain_helpers import tiny_prepared, tiny_recipe

from skeletonzoo._machine import usable_device
from skeletonzoo.cli.evaluate import main as eval_main
from skeletonzoo.cli.main import main
from skeletonzoo.cli.pretrain import main as pretrain_main


def _error(capsys, rc: int) -> str:
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_usable_device(no_cuda):
    assert usable_device(None) == torch.device("cpu") and usable_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu'; use cpu, cuda or cuda:N"):
        usable_device("gpu")
    with pytest.raises(ValueError, match="'cuda:1' asked for, but CUDA is not available here.*--device cpu"):
        usable_device("cuda:1")
    assert usable_device("cpu:0") == usable_device(torch.device("cpu", 0)) == torch.device("cpu")
    with pytest.raises(ValueError, match="device 'meta' holds no data"):
        usable_device("meta")


def test_library_functions_name_a_missing_gpu(no_cuda):
    from skeletonzoo.evaluate import knn_evaluate, linear_probe
    from skeletonzoo.features import extract_features
    from skeletonzoo.models import SkeletonEncoder

    features, labels = np.random.default_rng(0).random((6, 4)).astype(np.float32), np.arange(6) % 2
    encoder = SkeletonEncoder(hidden_channels=4, hidden_dim=8)
    for call in (lambda: extract_features(encoder, np.zeros((2, 3, 10, 25, 1), np.float32), device="cuda"),
                 lambda: linear_probe(features, labels, features, labels, device="cuda"),
                 lambda: knn_evaluate(features, labels, features, labels, device="cuda")):  # fmt: skip
        with pytest.raises(ValueError, match="CUDA is not available here"):
            call()


def test_a_missing_gpu_is_named_before_any_work(tmp_path, capsys, no_cuda):
    clips = tmp_path / "clips.npy"
    np.save(clips, np.zeros((2, 3, 10, 20, 1), np.float32))
    err = _error(capsys, main(["embed", "msmclr-nwucla-xview", str(clips), "-o", str(tmp_path / "f.npy"),
                               "--device", "cuda"]))  # fmt: skip
    assert "CUDA is not available" in err and not (tmp_path / "f.npy").exists()
    data = tiny_prepared(tmp_path / "data")
    err = _error(capsys, eval_main(["--random-init", "--data", str(data), "--device", "cuda"]))
    assert "CUDA is not available" in err
    recipe = tiny_recipe(tmp_path / "r.yaml", "skeletonclr")
    err = _error(capsys, pretrain_main([str(recipe), "--data", str(data), "--out", str(tmp_path / "run"),
                                        "--device", "cuda"]))  # fmt: skip
    assert "CUDA is not available" in err and not (tmp_path / "run").exists()


def test_damaged_input_files_are_named(tmp_path, capsys):
    np.save(tmp_path / "objects.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    np.save(tmp_path / "clips.npy", np.zeros((2, 3, 10, 20, 1), np.float32))
    whole = (tmp_path / "clips.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(whole[: len(whole) // 2])
    np.savez(tmp_path / "clips.npz", np.zeros((2, 3, 10, 20, 1), np.float32))
    whole = (tmp_path / "clips.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[: len(whole) // 2])
    for name, message in (("objects.npy", "cannot read it as a NumPy array of numbers"),
                          ("cut.npy", "cannot read it as a NumPy array of numbers"),
                          ("cut.npz", "cannot read it as an .npz archive")):  # fmt: skip
        err = _error(capsys, main(["embed", "msmclr-nwucla-xview", str(tmp_path / name), "-o",
                                   str(tmp_path / "f.npy")]))  # fmt: skip
        assert f"{tmp_path / name}: {message}" in err
    # the NW-UCLA reader: a plain array, a truncated archive
    out = str(tmp_path / "o")
    err = _error(capsys, main(["prepare", "nwucla", "--raw", str(tmp_path / "clips.npy"), "--out", out]))
    assert "a single array, not the NW-UCLA .npz archive" in err
    err = _error(capsys, main(["prepare", "nwucla", "--raw", str(tmp_path / "cut.npz"), "--out", out]))
    assert "cannot read it as the NW-UCLA .npz archive" in err
    (tmp_path / "mk.py").write_text("print(1)\n")  # not NumPy at all: not "pickled data"
    err = _error(capsys, main(["prepare", "nwucla", "--raw", str(tmp_path / "mk.py"), "--out", out]))
    assert "mk.py: not a NumPy .npz archive; give nwucla.npz or the folder of per-clip JSON files" in err


def test_prepare_options_are_checked(tmp_path, capsys):
    raw = tmp_path / "nwucla.npz"
    raw.write_bytes(b"")
    err = _error(capsys, main(["prepare", "nwucla", "--raw", str(raw), "--out", str(tmp_path / "o"),
                               "--benchmark", "xsub"]))  # fmt: skip
    assert "NW-UCLA has one benchmark here, xview" in err
    (tmp_path / "a_file").write_text("")
    err = _error(capsys, main(["prepare", "nwucla", "--raw", str(raw), "--out", str(tmp_path / "a_file")]))
    assert "is a file; give the folder" in err
    with pytest.raises(SystemExit):
        main(["prepare", "ntu60", "--raw", str(tmp_path), "--out", str(tmp_path / "o"), "--workers", "0"])
    assert "--workers: must be at least 1, got 0" in capsys.readouterr().err
    for dataset in ("nwucla", "ntu60"):
        gone = ["--raw", str(tmp_path / "gone.npz"), "--out", str(tmp_path / "o")]
        err = _error(capsys, main(["prepare", dataset, *gone]))
        assert f"--raw {tmp_path / 'gone.npz'}: no such file or folder" in err
    # a folder holding the packed archive: the archive is named, not just "no *.json"
    err = _error(capsys, main(["prepare", "nwucla", "--raw", str(tmp_path), "--out", str(tmp_path / "o")]))
    assert "no *.json clip files; it holds nwucla.npz: give that file instead of the folder" in err


def test_pretrain_refuses_a_damaged_checkpoint_and_bad_paths(tmp_path, capsys):
    data = tiny_prepared(tmp_path / "data")
    recipe = str(tiny_recipe(tmp_path / "r.yaml", "skeletonclr"))
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "last.pt").write_bytes(b"\x80\x02 not a checkpoint")
    for flag in ("--resume", "--export-only"):
        err = _error(capsys, pretrain_main([recipe, "--data", str(data), "--out", str(tmp_path / "run"), flag]))
        assert "last.pt cannot be read as a torch checkpoint (truncated or damaged)" in err
    (tmp_path / "a_file").write_text("")
    err = _error(capsys, pretrain_main([recipe, "--data", str(data), "--out", str(tmp_path / "a_file")]))
    assert "--out" in err and "is a file" in err
    err = _error(capsys, pretrain_main([recipe, "--data", str(tmp_path / "a_file"), "--out", str(tmp_path / "r2")]))
    assert "is not a prepared dataset: it is a file" in err
    with pytest.raises(SystemExit):
        pretrain_main([recipe, "--data", str(data), "--out", str(tmp_path / "r3"), "--threads", "0"])
    assert "--threads must be at least 1" in capsys.readouterr().err
    no_data = ((["--export-only"], "--export-only needs --data PREPARED_DIR too"), ([], "required to train"))
    for flags, message in no_data:
        with pytest.raises(SystemExit):
            pretrain_main([recipe, "--out", str(tmp_path / "run"), *flags])
        assert message in capsys.readouterr().err


def test_eval_options_out_of_range_name_the_option(tmp_path, capsys):
    data = str(tiny_prepared(tmp_path / "data"))
    cases = (("--k", "0", "Input should be greater than or equal to 1"),
             ("--linear-epochs", "0", "Input should be greater than or equal to 1"),
             ("--semi-fraction", "2", "Input should be less than or equal to 1"),
             ("--knn-temperature", "-1", "Input should be greater than 0"))  # fmt: skip
    for option, value, message in cases:
        err = _error(capsys, eval_main(["--random-init", "--data", data, option, value]))
        assert f"{option}: {message}" in err
    err = _error(capsys, eval_main(["--data", data]))
    assert "give a model (a zoo name or a .safetensors checkpoint), or --random-init" in err
    assert eval_main(["--random-init", "--data", data, "--protocol", "knn", "--k", "500"]) == 0
    assert "note: kNN: k=500 is more than the 24 training samples, so all of them vote" in capsys.readouterr().out


def test_changed_prepared_files_are_caught_before_use(tmp_path, capsys):
    """A prepared file edited after preparation no longer matches meta.json's sha256 (and so the
    fingerprint runs record): training, evaluation and a repeated prepare all refuse it."""
    data = tiny_prepared(tmp_path / "data")
    positions = np.load(data / "train_position.npy")
    positions[0] = 0
    np.save(data / "train_position.npy", positions)
    recipe = str(tiny_recipe(tmp_path / "r.yaml", "skeletonclr"))
    err = _error(capsys, pretrain_main([recipe, "--data", str(data), "--out", str(tmp_path / "run")]))
    assert "train_position.npy: sha256" in err and "does not match meta.json" in err
    assert not (tmp_path / "run").exists()
    err = _error(capsys, eval_main(["--random-init", "--data", str(data), "--protocol", "knn"]))
    assert "does not match meta.json" in err


def test_one_line_warnings_still_reach_a_callers_recorder(capsys):
    """Called from Python inside pytest.warns / catch_warnings(record=True), main() still lets the
    caller record skeletonzoo's warnings (and prints its one line); other warnings are untouched."""
    import warnings

    from skeletonzoo.cli.main import exit_quietly
    from skeletonzoo.exceptions import InputWarning

    def run() -> int:
        warnings.warn("odd input", InputWarning, stacklevel=1)
        return 0

    with pytest.warns(InputWarning, match="odd input"):
        assert exit_quietly("prog", run) == 0
    assert capsys.readouterr().err == "prog: warning: odd input\n"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exit_quietly("prog", run)
    assert [str(w.message) for w in caught] == ["odd input"]


def test_every_command_tells_its_version(capsys):
    import skeletonzoo

    commands = (("skeletonzoo", main), ("skeletonzoo-pretrain", pretrain_main), ("skeletonzoo-eval", eval_main))
    for prog, entry in commands:
        with pytest.raises(SystemExit) as exited:
            entry(["--version"])
        assert exited.value.code == 0
        assert capsys.readouterr().out == f"{prog} {skeletonzoo.__version__}\n"


def test_ctrl_c_and_a_closed_pipe_end_in_one_line(capsys):
    import subprocess
    import sys

    from skeletonzoo.cli.main import exit_quietly

    def interrupted() -> int:
        raise KeyboardInterrupt

    assert exit_quietly("skeletonzoo-eval", interrupted) == 130
    assert capsys.readouterr().err == "skeletonzoo-eval: interrupted; no output was left half-written\n"
    # `skeletonzoo list | true`: the reader is gone before the listing is written
    code = "import sys, time; from skeletonzoo.cli.main import main; time.sleep(1); sys.exit(main(['list']))"
    done = subprocess.run(f"{sys.executable} -c \"{code}\" | true", shell=True, capture_output=True, text=True)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr


def test_a_training_checkpoint_or_pt_file_given_as_a_model_says_what_it_is(tmp_path, capsys):
    data = tiny_prepared(tmp_path / "data")
    recipe = str(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=1, **{"optimizer.lr_steps": []}))
    assert pretrain_main([recipe, "--data", str(data), "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    for command in (["info", str(last)], ["embed", str(last), str(tmp_path / "x.npy"), "-o", str(tmp_path / "f.npy")]):
        np.save(tmp_path / "x.npy", np.zeros((1, 3, 10, 25, 1), np.float32))
        err = _error(capsys, main(command))
        assert "is a skeletonzoo-pretrain training checkpoint" in err and "--export-only" in err
    torch.save({"w": torch.zeros(2)}, tmp_path / "clip.pt")
    err = _error(capsys, main(["info", str(tmp_path / "clip.pt")]))
    assert "not a readable safetensors file" in err and "skeletonzoo convert" in err
