"""NTU RGB+D: the .skeleton reader, sample names, splits, missing lists and official counts."""

from __future__ import annotations

import numpy as np
import pytest

from skeletonzoo.data.ntu import _parse_lines, parse_ntu_skeleton, read_ntu_skeleton
from skeletonzoo.data.splits import (
    NTU120_XSUB_TRAIN,
    missing_skeletons,
    ntu_class_names,
    ntu_in_dataset,
    ntu_official_counts,
    ntu_split,
    parse_ntu_name,
)
from skeletonzoo.data.synthetic import random_ntu_names, write_ntu_skeleton, write_ntu_tree
from skeletonzoo.exceptions import DataFormatError


def _body(k: float) -> np.ndarray:
    """(25, 3) coordinates that survive 7-digit formatting exactly (multiples of 1/8)."""
    return (np.arange(75).reshape(25, 3) + 8 * k) / 8.0


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_reads_first_two_bodies_per_frame(tmp_path, newline):
    frames = [[_body(0)], [], [_body(1), _body(2), _body(3)], [_body(4), _body(5)]]
    path = write_ntu_skeleton(tmp_path / "S001C001P001R001A050.skeleton", frames, newline=newline)
    x = read_ntu_skeleton(path)
    assert x.shape == (3, 4, 25, 2) and x.dtype == np.float32
    expected = np.zeros((3, 4, 25, 2), dtype=np.float32)
    for t, bodies in enumerate(frames):
        for b, xyz in enumerate(bodies[:2]):
            expected[:, t, :, b] = xyz.T
    np.testing.assert_array_equal(x, expected)  # frame 1 empty; frame 2's third body dropped
    assert read_ntu_skeleton(path, max_bodies=3)[:, 2, :, 2].tolist() == _body(3).T.tolist()


def test_single_frame_and_empty_files(tmp_path):
    one = read_ntu_skeleton(write_ntu_skeleton(tmp_path / "a.skeleton", [[_body(0)]]))
    assert one.shape == (3, 1, 25, 2)
    np.testing.assert_array_equal(one[:, 0, :, 0], _body(0).T)  # its one body, x y z of every joint
    assert not one[..., 1].any()  # no second body
    assert read_ntu_skeleton(write_ntu_skeleton(tmp_path / "b.skeleton", [])).shape == (3, 0, 25, 2)
    no_bodies = read_ntu_skeleton(write_ntu_skeleton(tmp_path / "c.skeleton", [[], [], []]))
    assert no_bodies.shape == (3, 3, 25, 2) and not no_bodies.any()


def test_fast_parser_equals_the_strict_line_parser(tmp_path):
    rng = np.random.default_rng(0)
    paths = write_ntu_tree(tmp_path, random_ntu_names("ntu120", 12, rng), rng, frames=(1, 30),
                           p_empty_frame=0.2, p_extra_body=0.3)  # fmt: skip
    for path in paths.values():
        text = path.read_text()
        np.testing.assert_array_equal(parse_ntu_skeleton(text), _parse_lines(text, str(path), 2))


def _lines(tmp_path) -> tuple[list[str], str]:
    path = write_ntu_skeleton(tmp_path / "S001C001P001R001A001.skeleton", [[_body(0)], [_body(1), _body(2)]],
                              newline="\n")  # fmt: skip
    return path.read_text().splitlines(), str(path)


def _check(tmp_path, lines: list[str], line: int, match: str) -> None:
    path = tmp_path / "bad.skeleton"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=match) as info:
        read_ntu_skeleton(path)
    assert f"{path}, line {line}:" in str(info.value)


def test_truncated_files_name_the_line(tmp_path):
    lines, _ = _lines(tmp_path)  # 1 + (1 + 27) + (1 + 2 * 27) = 84 lines
    assert len(lines) == 84
    _check(tmp_path, lines[:40], 41, "truncated")  # cut inside frame 2, body 1
    _check(tmp_path, lines[:29], 30, "truncated")  # cut before frame 2's body count
    cut = lines[:60] + [" ".join(lines[60].split()[:5])]  # last line cut in the middle
    _check(tmp_path, cut, 61, "expected 12 field.*found 5.*truncated — download or extract it again")
    short = lines[:60] + [" ".join(lines[60].split()[:5])] + lines[61:]  # a short line that is not the last
    _check(tmp_path, short, 61, "expected 12 field.*found 5.*the file is corrupt — download")


@pytest.mark.parametrize("header", ["100000000000", "1e3"])
def test_a_corrupt_frame_count_is_not_allocated(tmp_path, header):
    """A frame count larger than the lines can hold is reported where the lines run out, not
    allocated first (10^11 frames used to fail with "Unable to allocate 54.6 TiB", no file named)."""
    lines, _ = _lines(tmp_path)
    _check(tmp_path, [header, *lines[1:]], 85, r"body count was expected \(frame 3 of 1\d+\); the file is truncated "
           r"or its frame count \(line 1\) is wrong — download or extract it again")  # fmt: skip


def test_malformed_files_name_the_line(tmp_path):
    lines, _ = _lines(tmp_path)
    bad = list(lines)
    bad[10] = bad[10].replace(bad[10].split()[1], "abc", 1)
    _check(tmp_path, bad, 11, "not numeric")
    bad = list(lines)
    bad[3] = "24"
    _check(tmp_path, bad, 4, "expected 25 joints")
    bad = list(lines)
    bad[1] = "1.5"
    _check(tmp_path, bad, 2, "non-negative integer")
    bad = list(lines)
    bad[2] = bad[2] + " 7"
    _check(tmp_path, bad, 3, "expected 10 field")
    _check(tmp_path, lines + ["1"], 85, "unexpected content.*corrupt — download or extract it again")
    bad = list(lines)
    bad[5] = "nan " + " ".join(bad[5].split()[1:])
    _check(tmp_path, bad, 6, "non-finite.*corrupt — download or extract it again")
    (tmp_path / "u.skeleton").write_bytes("1\n0\n\xe9\n".encode("latin1"))
    with pytest.raises(DataFormatError, match="line 3: non-ASCII.*corrupt — download or extract it again"):
        read_ntu_skeleton(tmp_path / "u.skeleton")


def test_sample_names():
    s = parse_ntu_name("/data/S017C003P020R002A060.skeleton")
    assert (s.setup, s.camera, s.performer, s.replication, s.action, s.label) == (17, 3, 20, 2, 60, 59)
    assert s.name == "S017C003P020R002A060"
    with pytest.raises(DataFormatError, match="not an NTU sample name"):
        parse_ntu_name("a01_s01_e00_v01")
    for stray in ("._S017C003P020R002A060.skeleton", "S017C003P020R002A060_copy.skeleton", "xS017C003P020R002A060"):
        with pytest.raises(DataFormatError, match="not an NTU sample name"):
            parse_ntu_name(stray)  # the whole file stem must be the name


def test_splits_hand_checked():
    s = parse_ntu_name("S001C001P001R001A001")  # performer 1 trains, camera 1 tests, setup 1 is odd
    assert ntu_split(s, "ntu60", "xsub") == "train"
    assert ntu_split(s, "ntu60", "xview") == "test"
    assert ntu_split(s, "ntu120", "xset") == "test"
    s = parse_ntu_name("S018C002P045R001A061")
    assert ntu_split(s, "ntu120", "xsub") == "train" and ntu_split(s, "ntu120", "xset") == "train"
    assert not ntu_in_dataset(s, "ntu60") and ntu_in_dataset(s, "ntu120")
    assert ntu_split(parse_ntu_name("S002C003P003R001A001"), "ntu120", "xsub") == "test"
    assert len(NTU120_XSUB_TRAIN) == 53
    with pytest.raises(ValueError, match="benchmarks"):
        ntu_split(s, "ntu60", "xset")


def test_missing_lists_and_official_counts():
    m60, m120 = missing_skeletons("ntu60"), missing_skeletons("ntu120")
    assert len(m60) == 302 and len(m120) == 535 and m60 <= m120
    assert all(parse_ntu_name(n).setup <= 17 for n in m60)
    for benchmark in ("xsub", "xview"):
        c = ntu_official_counts("ntu60", benchmark)
        assert c.total == 56_578 and sum(c.splits.values()) == 56_578
    assert ntu_official_counts("ntu60", "xsub").splits == {"train": 40_091, "test": 16_487}
    assert ntu_official_counts("ntu60", "xview").splits == {"train": 37_646, "test": 18_932}
    assert ntu_official_counts("ntu120", "xset").total == 113_945


def test_class_names():
    names = ntu_class_names("ntu120")
    assert len(names) == 120 and len(ntu_class_names("ntu60")) == 60 and len(set(names)) == 120
    assert names[0] == "drink water" and names[59] == "walking apart from each other"
    assert names[119].startswith("finger-guessing game")


def test_synthetic_tree_marks_missing_samples_empty(tmp_path):
    rng = np.random.default_rng(3)
    names = random_ntu_names("ntu60", 4, rng, include_missing=2)
    paths = write_ntu_tree(tmp_path, names, rng)
    listed = [n for n in names if n in missing_skeletons("ntu60")]
    assert len(listed) == 2
    for name in listed:
        assert not read_ntu_skeleton(paths[name]).any()
    others = [n for n in names if n not in listed]
    assert all(read_ntu_skeleton(paths[n])[..., 0].any() for n in others)
