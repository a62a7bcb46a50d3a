"""``skeletonzoo prepare`` end to end on synthetic raw trees: values, splits, counts, resuming."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

import skeletonzoo.data.prepare as prepare_module
from skeletonzoo.cli.main import main
from skeletonzoo.data import Preprocess, open_prepared
from skeletonzoo.data.ntu import read_ntu_skeleton
from skeletonzoo.data.pkummd import read_pku_skeleton
from skeletonzoo.data.prepare import load_job, plan_ntu, plan_pkummd, prepare_ntu, prepare_pkummd
from skeletonzoo.data.prepared_writer import PreparedWriter
from skeletonzoo.data.splits import missing_skeletons, ntu_split, parse_ntu_name
from skeletonzoo.data.synthetic import random_ntu_names, write_ntu_tree, write_pku_tree
from skeletonzoo.exceptions import DataFormatError, PrepareError


@pytest.fixture(scope="module")
def ntu60_raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("ntu60")
    rng = np.random.default_rng(0)
    names = random_ntu_names("ntu60", 24, rng, include_missing=2)
    write_ntu_tree(root / "nturgb+d_skeletons", names, rng, frames=(1, 40), p_empty_frame=0.05, p_extra_body=0.1)
    # NTU-120 files in the same tree are ignored by ntu60
    write_ntu_tree(root / "nturgb+d_skeletons", ["S018C001P050R001A070"], rng)
    return root, names


def _expected(path) -> np.ndarray:
    """Stage 1 + stage 2 of one file, computed sample by sample."""
    x = torch.from_numpy(read_ntu_skeleton(path)[None, :, :300])
    return Preprocess()(x)[0].numpy()


def test_cli_prepares_every_split_of_every_benchmark(ntu60_raw, tmp_path, capsys):
    root, names = ntu60_raw
    out = tmp_path / "out"
    status = main(["prepare", "ntu60", "--raw", str(root), "--out", str(out), "--allow-incomplete", "--workers", "2",
                   "--batch-size", "5"])  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "ntu60 xsub" in printed and "INCOMPLETE" in printed
    kept = sorted(n for n in names if n not in missing_skeletons("ntu60"))
    assert len(kept) == 24
    for benchmark in ("xsub", "xview"):
        seen = []
        for split in ("train", "test"):
            data = open_prepared(out / benchmark, split)
            data.verify()
            assert data.positions.shape[1:] == (3, 50, 25, 2)
            assert data.meta.dataset == "ntu60" and data.meta.benchmark == benchmark
            assert data.meta.preprocessing == Preprocess().to_dict() and len(data.meta.class_names) == 60
            for name, label, x in zip(data.names, data.labels, data.positions):
                sample = parse_ntu_name(name)
                assert ntu_split(sample, "ntu60", benchmark) == split and label == sample.label
                np.testing.assert_array_equal(x, _expected(root / "nturgb+d_skeletons" / f"{name}.skeleton"))
            seen += data.names
        assert sorted(seen) == kept  # the splits partition the set, listed samples skipped


def test_single_benchmark_goes_to_out_itself(ntu60_raw, tmp_path):
    root, _ = ntu60_raw
    metas = prepare_ntu(root, tmp_path, "ntu60", ["xview"], workers=1, allow_incomplete=True)
    assert set(metas) == {"xview"} and (tmp_path / "meta.json").is_file()
    assert "INCOMPLETE" in metas["xview"].source["count_check"]
    # the two layouts never share a folder: one of them would be stale
    with pytest.raises(PrepareError, match="holds a single-benchmark preparation"):
        prepare_ntu(root, tmp_path, "ntu60", ["xsub", "xview"], workers=1, allow_incomplete=True)
    both = tmp_path / "both"
    prepare_ntu(root, both, "ntu60", ["xsub", "xview"], workers=1, allow_incomplete=True)
    with pytest.raises(PrepareError, match=f"holds per-benchmark preparations \\(xsub/, xview/\\); to prepare xsub "
                                           f"alone give --out {both / 'xsub'}"):  # fmt: skip
        prepare_ntu(root, both, "ntu60", ["xsub"], workers=1, allow_incomplete=True)
    assert not (both / "meta.json").exists()
    # another dataset kept in a subfolder is not a per-benchmark preparation
    prepare_ntu(root, tmp_path / "data" / "ntu60-xview", "ntu60", ["xview"], workers=1, allow_incomplete=True)
    prepare_ntu(root, tmp_path / "data", "ntu60", ["xsub"], workers=1, allow_incomplete=True)
    assert (tmp_path / "data" / "meta.json").is_file()


def test_counts_are_checked_before_any_work(ntu60_raw, tmp_path, capsys):
    root, _ = ntu60_raw
    status = main(["prepare", "ntu60", "--raw", str(root), "--out", str(tmp_path / "o"), "--benchmark", "xsub"])
    err = capsys.readouterr().err
    assert status == 2
    assert "total 24 != official 56,578" in err and "--allow-incomplete" in err
    assert not (tmp_path / "o").exists()


def _interrupt_the_11th_job(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Make parsing raise KeyboardInterrupt (a Ctrl-C) at the 11th job; returns the call counter
    (``calls["n"]``), which a test resets to let the next run through."""
    calls = {"n": 0}

    def flaky(job):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 11:
            raise KeyboardInterrupt
        return load_job(job)

    monkeypatch.setattr(prepare_module, "load_job", flaky)
    return calls


def test_interrupted_run_resumes_and_matches_a_fresh_one(ntu60_raw, tmp_path, monkeypatch):
    root, _ = ntu60_raw
    fresh = prepare_ntu(root, tmp_path / "fresh", "ntu60", ["xsub"], workers=1, batch_size=4, allow_incomplete=True)
    calls = _interrupt_the_11th_job(monkeypatch)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        prepare_ntu(root, out, "ntu60", ["xsub"], workers=1, batch_size=4, allow_incomplete=True)
    with pytest.raises(FileNotFoundError, match="unfinished"):
        open_prepared(out, "train")
    journal = json.loads((out / ".prepare-journal.json").read_text())
    assert journal["progress"] == 8  # two batches of 4 files committed before the interruption
    calls["n"] = 100
    prepare_ntu(root, out, "ntu60", ["xsub"], workers=1, batch_size=4, allow_incomplete=True)
    assert calls["n"] == 100 + 24 - 8  # only the remaining files were parsed
    for split in ("train", "test"):
        a, b = open_prepared(out, split), open_prepared(tmp_path / "fresh", split)
        assert a.fingerprint() == b.fingerprint()
        np.testing.assert_array_equal(a.positions, b.positions)
    assert not list(out.glob(".*"))  # journal and partial files are gone
    assert fresh["xsub"].source["run_id"] == a.meta.source["run_id"]


def test_cli_interrupt_resume_and_rerun_say_what_happened(ntu60_raw, tmp_path, monkeypatch, capsys):
    """Ctrl-C says the work is kept and how to continue, the next run says it continues, and a
    run on the finished output says there was nothing to do."""
    root, _ = ntu60_raw
    calls = _interrupt_the_11th_job(monkeypatch)
    out = tmp_path / "out"
    args = ["prepare", "ntu60", "--raw", str(root), "--out", str(out), "--benchmark", "xsub", "--allow-incomplete",
            "--workers", "1", "--batch-size", "4"]  # fmt: skip
    assert main([*args, "--overwrite"]) == 130  # a run asked to replace: continuing is the command without that
    assert f"kept in {out}: run the same command again without --overwrite to continue" in capsys.readouterr().err
    calls["n"] = 0
    assert main(args) == 130
    assert f"interrupted; the clips written so far are kept in {out}: run the same command again to continue" in (
        capsys.readouterr().err)  # fmt: skip
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "prepare ntu60: continuing an interrupted preparation at clip 16 of 24" in captured.err
    assert "nothing to do" not in captured.out
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"{out}: ntu60 xsub: train" in printed and "(prepared before: nothing to do)" in printed


def test_output_of_other_input_is_not_overwritten(ntu60_raw, tmp_path):
    root, names = ntu60_raw
    prepare_ntu(root, tmp_path, "ntu60", ["xsub"], workers=1, allow_incomplete=True)
    # the same input, even reached by another path: nothing to do
    before = (tmp_path / "meta.json").stat().st_mtime_ns
    again = prepare_ntu(os.path.relpath(root), tmp_path, "ntu60", ["xsub"], workers=1, allow_incomplete=True)
    assert (tmp_path / "meta.json").stat().st_mtime_ns == before
    assert again["xsub"].splits == open_prepared(tmp_path, "train").meta.splits
    with pytest.raises(PrepareError, match="--overwrite"):
        prepare_ntu(root, tmp_path, "ntu120", ["xsub"], workers=1, allow_incomplete=True)
    metas = prepare_ntu(root, tmp_path, "ntu120", ["xsub"], workers=1, allow_incomplete=True, overwrite=True)
    assert metas["xsub"].dataset == "ntu120" and metas["xsub"].num_classes == 120
    assert sum(i.num_samples for i in metas["xsub"].splits.values()) == 25  # the S018 file counts now


def test_ntu120_from_two_folders_and_duplicates(tmp_path):
    rng = np.random.default_rng(1)
    write_ntu_tree(tmp_path / "a", ["S001C001P001R001A001", "S002C002P002R002A002"], rng)
    write_ntu_tree(tmp_path / "b", ["S020C001P060R001A100"], rng)
    plan = plan_ntu([tmp_path / "a", tmp_path / "b"], "ntu120")
    assert plan.names == ["S001C001P001R001A001", "S002C002P002R002A002", "S020C001P060R001A100"]
    assert plan.splits["xset"] == ["test", "train", "train"]
    write_ntu_tree(tmp_path / "b", ["S001C001P001R001A001"], rng)
    with pytest.raises(PrepareError, match="found twice"):
        plan_ntu([tmp_path / "a", tmp_path / "b"], "ntu120")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PrepareError, match="no ntu60 .skeleton files"):
        plan_ntu(tmp_path / "empty", "ntu60")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plan_ntu(tmp_path / "nowhere", "ntu60")


def test_macos_files_are_ignored_and_stray_files_named(tmp_path):
    """A macOS-made archive holds binary AppleDouble ``._`` twins, next to the files and under
    ``__MACOSX/``: they are not samples. Any other wrongly named .skeleton file stops the plan
    with its full path and what to do."""
    rng = np.random.default_rng(5)
    names = ["S001C001P001R001A001", "S001C001P001R001A002"]
    write_ntu_tree(tmp_path / "raw" / "nturgb+d_skeletons", names, rng)
    for twin in ("__MACOSX/nturgb+d_skeletons/._S001C001P001R001A001", "nturgb+d_skeletons/._S001C001P001R001A002"):
        (tmp_path / "raw" / f"{twin}.skeleton").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "raw" / f"{twin}.skeleton").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    plan = plan_ntu(tmp_path / "raw", "ntu60")
    assert plan.names == names and all("._" not in job.path for job in plan.jobs)
    stray = tmp_path / "raw" / "nturgb+d_skeletons" / "test.skeleton"
    stray.write_text("0\n")
    with pytest.raises(PrepareError, match="'test.skeleton' is not an NTU sample name.*; remove or rename") as info:
        plan_ntu(tmp_path / "raw", "ntu60")
    assert str(info.value).startswith(f"{stray}: ")  # the full path: the user can find it


def test_a_malformed_file_stops_the_run_naming_it(tmp_path, capsys):
    rng = np.random.default_rng(2)
    names = ["S001C001P001R001A001", "S001C001P002R001A001", "S001C001P003R001A001"]
    paths = write_ntu_tree(tmp_path / "raw", names, rng)
    bad = paths[names[2]]
    whole = bad.read_text()
    bad.write_text("\n".join(whole.splitlines()[:20]))
    options = dict(workers=1, batch_size=1, allow_incomplete=True)
    with pytest.raises(DataFormatError, match=f"{bad.name}, line 21"):
        prepare_ntu(tmp_path / "raw", tmp_path / "out", "ntu60", ["xsub"], **options)
    # the file fixed (its size changed): the run continues from where it stopped, as a fresh one would end
    bad.write_text(whole)
    fresh = prepare_ntu(tmp_path / "raw", tmp_path / "fresh", "ntu60", ["xsub"], **options)["xsub"]
    capsys.readouterr()
    resumed = prepare_ntu(tmp_path / "raw", tmp_path / "out", "ntu60", ["xsub"], **options)["xsub"]
    assert "1 raw file(s) not reached yet changed since the run stopped" in capsys.readouterr().err
    assert resumed.source["run_id"] == fresh.source["run_id"] and not list((tmp_path / "out").glob(".*"))
    for split in resumed.splits:
        a, b = open_prepared(tmp_path / "out", split), open_prepared(tmp_path / "fresh", split)
        np.testing.assert_array_equal(a.positions, b.positions)
    # a file the stopped run had already written changed: that is other input, and the message says why
    bad.write_text("\n".join(whole.splitlines()[:20]))
    with pytest.raises(DataFormatError):
        prepare_ntu(tmp_path / "raw", tmp_path / "again", "ntu60", ["xsub"], **options)
    bad.write_text(whole)
    first = paths[names[0]]
    first.write_text(first.read_text() + "\n")  # same clip, another size
    with pytest.raises(PrepareError, match="a raw file fixed or re-extracted since counts as other input.*--overwrite"):
        prepare_ntu(tmp_path / "raw", tmp_path / "again", "ntu60", ["xsub"], **options)
    again = prepare_ntu(tmp_path / "raw", tmp_path / "again", "ntu60", ["xsub"], overwrite=True, **options)
    assert sum(s.num_samples for s in again["xsub"].splits.values()) == 3


def test_writer_never_finishes_short(tmp_path):
    writer = PreparedWriter(tmp_path, {"train": (["a", "b", "c"], np.array([0, 1, 2]))}, (3, 2, 25, 1), run_id="x")
    writer.write("train", [0, 2], np.ones((2, 3, 2, 25, 1), dtype=np.float32))
    writer.commit(1)
    with pytest.raises(PrepareError, match="1 of 3 samples of split 'train' were never written"):
        writer.finish(dataset="toy", benchmark="b", layout="ntu25", num_classes=3)
    resumed = PreparedWriter(tmp_path, {"train": (["a", "b", "c"], np.array([0, 1, 2]))}, (3, 2, 25, 1), run_id="x")
    assert resumed.progress == 1 and resumed.missing_rows("train") == 1
    resumed.write("train", [1], np.full((1, 3, 2, 25, 1), 2.0, dtype=np.float32))
    resumed.finish(dataset="toy", benchmark="b", layout="ntu25", num_classes=3)
    data = open_prepared(tmp_path, "train")
    assert data.positions[:, 0, 0, 0, 0].tolist() == [1.0, 2.0, 1.0]
    with pytest.raises(PrepareError, match="other input"):
        PreparedWriter(tmp_path, {"train": (["a"], np.array([0]))}, (3, 2, 25, 1), run_id="y")
    own = tmp_path / "own"
    own.mkdir()
    (own / "train_label.npy").write_bytes(b"someone's labels")
    with pytest.raises(PrepareError, match="train_label.npy but no meta.json"):
        PreparedWriter(own, {"train": (["a"], np.array([0]))}, (3, 2, 25, 1), run_id="z")
    assert (own / "train_label.npy").read_bytes() == b"someone's labels"
    PreparedWriter(own, {"train": (["a"], np.array([0]))}, (3, 2, 25, 1), run_id="z", overwrite=True)


# --- PKU-MMD -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pku_raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("pku")
    videos = {
        # frames 1-based, both ends included; the last runs past the video (200 frames)
        "0002-L": [(1, 1, 30), (12, 40, 95), (51, 100, 400)],
        "0002-M": [(3, 10, 20)],
        "0291-R": [(12, 5, 6), (2, 50, 150)],
    }
    split = {
        "xsub": {"train": ["0002-L", "0002-M"], "test": ["0291-R"]},
        "xview": {"train": ["0002-M", "0291-R"], "test": ["0002-L"]},
    }
    write_pku_tree(root / "v1", videos, split, np.random.default_rng(4), two_person_labels=[12])
    return root / "v1", videos


def test_pkummd_clips_labels_and_splits(pku_raw, tmp_path):
    root, videos = pku_raw
    metas = prepare_pkummd(root, tmp_path, 1, workers=1)
    assert set(metas) == {"xsub", "xview"}
    train = open_prepared(tmp_path / "xsub", "train")
    assert train.names == ["0002-L_0", "0002-L_1", "0002-L_2", "0002-M_0"]
    assert train.labels.tolist() == [0, 11, 50, 2] and train.meta.num_classes == 51
    assert open_prepared(tmp_path / "xview", "test").names == ["0002-L_0", "0002-L_1", "0002-L_2"]
    video = read_pku_skeleton(root / "skeleton" / "0002-L.txt")
    for k, (_, start, end) in enumerate(videos["0002-L"]):
        clip = torch.from_numpy(video[None, :, start - 1 : min(end, 200)])  # frames start..end, 1-based
        assert clip.shape[2] == min(end, 200) - start + 1
        np.testing.assert_array_equal(train.positions[k], Preprocess()(clip)[0].numpy())
    assert train.positions[1, ..., 1].any() and not train.positions[0, ..., 1].any()  # second person
    assert "no official count" in metas["xsub"].source["count_check"]
    assert metas["xsub"].source["clip_frames"] == "start..end of the label line, 1-based, both included"


def test_clips_without_a_skeleton_are_named_in_a_warning(pku_raw, tmp_path):
    """A labelled action whose frames hold no body is written as an all-zero sample (as the original
    pipeline writes it), and the preparation says which."""
    import shutil

    from skeletonzoo.exceptions import EmptySampleWarning

    root, _ = pku_raw
    raw = tmp_path / "raw"
    shutil.copytree(root, raw)
    lines = (raw / "skeleton" / "0002-M.txt").read_text().splitlines()
    zero = " ".join(["0.000000"] * 150)
    (raw / "skeleton" / "0002-M.txt").write_text("\n".join(zero if 9 <= i < 20 else line
                                                            for i, line in enumerate(lines)) + "\n")  # fmt: skip
    with pytest.warns(EmptySampleWarning, match=r"1 clip\(s\) hold no skeleton in any frame .*: 0002-M_0; "):
        prepare_pkummd(raw, tmp_path / "out", 1, workers=1)
    assert not open_prepared(tmp_path / "out" / "xsub", "train").positions[3].any()  # 0002-M_0, frames 10..20


def test_clips_whose_first_person_is_never_tracked_are_named_in_a_warning(pku_raw, tmp_path):
    """A clip where only the second body is tracked has no frames by the pipeline's length rule
    (joint 0 of the first person): it is written as zeros, and the preparation says which."""
    import shutil

    from skeletonzoo.exceptions import EmptySampleWarning

    root, _ = pku_raw
    raw = tmp_path / "raw"
    shutil.copytree(root, raw)
    lines = (raw / "skeleton" / "0002-M.txt").read_text().splitlines()
    second = " ".join(["0.000000"] * 75 + ["0.500000"] * 75)  # first person absent, second at 0.5
    (raw / "skeleton" / "0002-M.txt").write_text("\n".join(second if 9 <= i < 20 else line
                                                            for i, line in enumerate(lines)) + "\n")  # fmt: skip
    with pytest.warns(EmptySampleWarning, match=r"1 clip\(s\) hold a skeleton but no frame where the first "
                      r"person's joint 0 is tracked.*: 0002-M_0; "):  # fmt: skip
        prepare_pkummd(raw, tmp_path / "out", 1, workers=1)
    assert not open_prepared(tmp_path / "out" / "xsub", "train").positions[3].any()  # 0002-M_0, frames 10..20


def test_pkummd_data_is_named_as_the_registry_and_recipes_name_it(pku_raw, tmp_path):
    """Phase I data is ``pkummd1``, the name the PKU-MMD recipes check against; a meta.json
    written under the earlier name ``pkummd`` reads as ``pkummd1``."""
    from skeletonzoo.data.prepared import read_prepared_meta
    from skeletonzoo.pretrain.recipe import load_recipe
    from skeletonzoo.registry import DATASETS as REGISTRY_DATASETS

    root, videos = pku_raw
    meta = prepare_pkummd(root, tmp_path, 1, workers=1)["xsub"]
    recipe = load_recipe("msmclr-pkummd1-xsub")
    assert (meta.dataset, meta.benchmark) == (recipe.dataset, recipe.benchmark) == ("pkummd1", "xsub")
    assert meta.dataset in REGISTRY_DATASETS
    # phase II (its own split file names) is ``pkummd2``, MsMCLR's PKU-MMD II recipes' dataset
    split = {"xsub": {"train": ["0002-L", "0002-M"], "test": ["0291-R"]}}
    phase2 = write_pku_tree(tmp_path / "raw2", videos, split, np.random.default_rng(5), phase=2)
    meta2 = prepare_pkummd(phase2, tmp_path / "out2", 2, workers=1, benchmarks=["xsub"])["xsub"]
    for stream in ("", "-bone", "-motion"):
        recipe2 = load_recipe(f"msmclr-pkummd2-xsub{stream}")
        assert (meta2.dataset, meta2.benchmark) == (recipe2.dataset, recipe2.benchmark) == ("pkummd2", "xsub")
    assert REGISTRY_DATASETS["pkummd2"].num_classes == meta2.num_classes == 51
    legacy = json.loads((tmp_path / "xsub" / "meta.json").read_text())
    legacy["dataset"] = "pkummd"
    (tmp_path / "xsub" / "meta.json").write_text(json.dumps(legacy))
    assert read_prepared_meta(tmp_path / "xsub").dataset == "pkummd1"


def test_pkummd_errors(pku_raw, tmp_path):
    root, _ = pku_raw
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    (bad / "label" / "0002-M.txt").write_text("3,250,260,1\n")
    with pytest.raises(DataFormatError, match="0002-M.txt, line 1: action starts at frame 250 .* 200 frames; "
                       "the label and skeleton files do not match — extract both"):  # fmt: skip
        prepare_pkummd(bad, tmp_path / "o1", 1, workers=1)
    for line, problem in (("3,20,19,1", "20..19 is empty"), ("3,0,5,1", "0..5 is empty or starts before frame 1")):
        (bad / "label" / "0002-M.txt").write_text(line + "\n")
        with pytest.raises(DataFormatError, match=rf"line 1: frame range {problem}.*; correct or delete"):
            prepare_pkummd(bad, tmp_path / "o1", 1, workers=1)
    (bad / "label" / "0002-M.txt").write_text("60,1,20,1\n")
    with pytest.raises(DataFormatError, match="line 1: action id 60 outside 1..51"):
        prepare_pkummd(bad, tmp_path / "o2", 1, workers=1)
    (bad / "label" / "0002-M.txt").write_text("3,10.0,20,1\n3,12.7,20,1\n")  # 10.0 is frame 10; 12.7 is no frame
    with pytest.raises(DataFormatError, match=r"line 2: expected whole numbers, found '3,12.7,20,1'"):
        prepare_pkummd(bad, tmp_path / "o2", 1, workers=1)
    (bad / "skeleton" / "0291-R.txt").unlink()
    with pytest.raises(PrepareError, match="1 of the 3 videos.*or pass --allow-incomplete"):
        prepare_pkummd(bad, tmp_path / "o3", 1, workers=1)
    # --allow-incomplete prepares the videos that are there and records what it left out
    shutil.copy(root / "label" / "0002-M.txt", bad / "label" / "0002-M.txt")
    meta = prepare_pkummd(bad, tmp_path / "o3", 1, workers=1, allow_incomplete=True)["xsub"]
    assert meta.source["skipped_missing_videos"].startswith("1 of 3 ") and meta.source["videos"] == 2
    full = prepare_pkummd(root, tmp_path / "o4", 1, workers=1)["xsub"]
    from skeletonzoo.data.prepared import read_prepared_meta

    names = {out: [n for split in read_prepared_meta(tmp_path / out / "xsub").splits
                   for n in open_prepared(tmp_path / out / "xsub", split).names] for out in ("o3", "o4")}  # fmt: skip
    assert any(n.startswith("0291-R") for n in names["o4"]) and full.source["videos"] == 3
    assert names["o3"] == [n for n in names["o4"] if not n.startswith("0291-R")]
    lines = (root / "skeleton" / "0002-L.txt").read_text().splitlines()
    (bad / "skeleton" / "0002-L.txt").write_text("\n".join(lines[:7] + [lines[7][:100]]))
    with pytest.raises(DataFormatError, match="0002-L.txt, line 8: expected 150 numbers.*truncated — download"):
        read_pku_skeleton(bad / "skeleton" / "0002-L.txt")


def test_pku_folders_are_found_by_their_videos_not_by_the_raw_folders_name(pku_raw, tmp_path):
    """``--raw PKUMMD_skeleton_data`` with the split files at its top: that folder's own name
    (and a macOS ``__MACOSX`` copy of the skeleton folder) does not make a second skeleton folder."""
    import shutil

    from skeletonzoo.data.pkummd import find_pku_files

    root, _ = pku_raw
    raw = tmp_path / "PKUMMD_skeleton_data"
    shutil.copytree(root, raw)
    assert (raw / "cross-subject.txt").is_file()
    (raw / "__MACOSX" / "skeleton").mkdir(parents=True)
    (raw / "__MACOSX" / "skeleton" / "._0002-L.txt").write_bytes(b"\x00\x05\x16\x07Mac OS X")
    files = find_pku_files([raw], 1)
    assert (files.skeleton_dir, files.label_dir) == (raw / "skeleton", raw / "label")
    assert plan_pkummd(raw, 1).source["videos"] == 3
    shutil.copytree(raw / "skeleton", raw / "copy" / "skeleton")
    with pytest.raises(DataFormatError, match="found .*skeleton, .*skeleton; pass the folder of just one copy"):
        find_pku_files([raw], 1)
    shutil.rmtree(raw / "copy")
    shutil.rmtree(raw / "skeleton")
    with pytest.raises(DataFormatError, match="'\\*skeleton\\*'.*found none; extract the phase's archives there"):
        find_pku_files([raw], 1)


def test_pkummd_jobs_cut_clips_to_300_frames(tmp_path):
    from skeletonzoo.data.prepare import Job

    rows = np.arange(400 * 150, dtype=np.float64).reshape(400, 150) / 1000
    (tmp_path / "v.txt").write_text("\n".join(" ".join(f"{v:.3f}" for v in r) for r in rows))
    (clip,) = load_job(Job("pku", str(tmp_path / "v.txt"), ((10, 390),), "l.txt", (1,)))
    assert clip.shape == (3, 300, 25, 2)
    # label frames are 1-based: the clip starts at frame 10, row 9 of the file
    np.testing.assert_allclose(clip[:, 0], rows[9].reshape(2, 25, 3).transpose(2, 1, 0), rtol=1e-6)
    # cut, not resampled: the last kept frame is the clip's 300th, frame 309 (row 308)
    np.testing.assert_allclose(clip[:, 299], rows[308].reshape(2, 25, 3).transpose(2, 1, 0), rtol=1e-6)
    (one,) = load_job(Job("pku", str(tmp_path / "v.txt"), ((400, 400),), "l.txt", (1,)))  # a one-frame action
    np.testing.assert_allclose(one[:, 0], rows[399].reshape(2, 25, 3).transpose(2, 1, 0), rtol=1e-6)
    assert one.shape[1] == 1
