"""Conversion of original-code checkpoints, and the refusals."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from reference_files import make_reference_state, write_reference_checkpoint

from skeletonzoo import convert_reference_checkpoint
from skeletonzoo.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from skeletonzoo.cli.main import main as cli
from skeletonzoo.convert import REFERENCE_METHODS, load_reference_checkpoint, sha256_file
from skeletonzoo.exceptions import CheckpointError, ReferenceCheckpointError


def _x(seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 3, 16, 25, 2, generator=g)
    x[1, ..., 1] = 0
    return x


@pytest.mark.parametrize("method", sorted(REFERENCE_METHODS))
def test_every_method_converts(tmp_path, method):
    path = tmp_path / f"{method}.pt"
    modules = write_reference_checkpoint(path, method)
    encoders = convert_reference_checkpoint(path, method)
    expected_components = {"crosscale-sgclr": {"joint", "scale"}, "crosview-sgclr": {"joint", "motion"}}
    assert set(encoders) == expected_components.get(method, {"joint"})
    for name, encoder in encoders.items():
        assert not encoder.training
        source_encoder = modules[name][0].eval()
        x = _x()
        if name == "scale":
            from skeletonzoo.skeleton import CROSSCALE_PARTS_10

            x = CROSSCALE_PARTS_10.apply(x, dim=3)
        with torch.no_grad():
            torch.testing.assert_close(encoder(x), source_encoder(x))


def test_linear_head_checkpoint(tmp_path):
    path = tmp_path / "clr.pt"
    write_reference_checkpoint(path, "skeletonclr", mlp=False)
    ref = load_reference_checkpoint(path, "skeletonclr")
    assert ref.heads["joint"].fc1 is None and ref.heads["joint"].out_features == 10


def test_wrong_method_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "cc.pt"
    write_reference_checkpoint(path, "crosscale-sgclr")
    with pytest.raises(ReferenceCheckpointError) as info:
        convert_reference_checkpoint(path, "msmclr")
    err = info.value
    assert "looks like a 'crosscale-sgclr' checkpoint" in str(err)
    assert "encoder_q.m2a.conv_down.weight" in err.missing
    assert any(k.startswith("encoder_q_scale.") for k in err.unexpected)


def test_missing_unexpected_and_misshaped_keys_are_listed(tmp_path):
    state, _ = make_reference_state("skeletonclr")
    del state["encoder_q.st_gcn_networks.3.tcn.2.bias"]
    state["encoder_q.extra_thing"] = torch.zeros(2)
    state["encoder_k.edge_importance.2"] = torch.ones(3, 25, 24)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(ReferenceCheckpointError) as info:
        convert_reference_checkpoint(path, "skeletonclr")
    err = info.value
    assert err.missing == ["encoder_q.st_gcn_networks.3.tcn.2.bias"]
    assert err.unexpected == ["encoder_q.extra_thing"]
    assert [k for k, _, _ in err.mismatched] == ["encoder_k.edge_importance.2"]
    for text in ("missing keys", "unexpected keys", "mis-shaped keys", "expected (3, 25, 25)"):
        assert text in str(err)


def test_corrupted_checkpoint_is_refused(tmp_path):
    path = tmp_path / "good.pt"
    write_reference_checkpoint(path, "skeletonclr")
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        convert_reference_checkpoint(truncated, "skeletonclr")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="is not a torch checkpoint: it starts with b'.*zip archive"):
        convert_reference_checkpoint(garbage, "skeletonclr")
    for empty in (b"", bytes(4096)):  # a failed download or copy: said to be truncated, not another kind of file
        (tmp_path / "empty.pt").write_bytes(empty)
        with pytest.raises(CheckpointError, match="corrupted or truncated"):
            convert_reference_checkpoint(tmp_path / "empty.pt", "skeletonclr")
    text = tmp_path / "notes.pt"  # not even binary: named as such, not as torch's unpickling advice
    text.write_text("print(1)\n")
    with pytest.raises(CheckpointError, match="notes.pt is not a torch checkpoint: it starts with b'prin'"):
        convert_reference_checkpoint(text, "skeletonclr")


@pytest.mark.parametrize("dropped", ["encoder_q.fc.0.weight", "encoder_q.edge_importance.0"])
def test_a_missing_key_that_decides_the_structure_is_named(tmp_path, dropped):
    """The head's kind and the edge importances are read from any of their keys, so the one key
    missing is named, not its siblings as unexpected."""
    path = tmp_path / "m.pt"
    write_reference_checkpoint(path, "msmclr")
    state = torch.load(path)
    del state[dropped]
    torch.save(state, path)
    with pytest.raises(ReferenceCheckpointError, match=rf"Details: missing keys: {dropped}\.$"):
        convert_reference_checkpoint(path, "msmclr")


class _Payload:
    """Unpickling this would create a marker file: proof that code ran."""

    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.filterwarnings("error::UserWarning")  # our error alone: torch's pickle-protocol warning is muted
def test_pickled_object_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "PWNED"
    payload = _Payload()
    payload.marker = str(marker)
    state, _ = make_reference_state("skeletonclr")
    state["evil"] = payload  # type: ignore[assignment]
    path = tmp_path / "evil.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        convert_reference_checkpoint(path, "skeletonclr")
    assert not marker.exists()
    # a plain pickle (not a torch zip) is refused as well
    plain = tmp_path / "plain.pkl"
    with open(plain, "wb") as f:
        pickle.dump({"queue": payload}, f)
    with pytest.raises(CheckpointError, match=r"contains pickled Python objects other than tensors \(\w*\.?open\); "
                       "skeletonzoo never unpickles code"):  # fmt: skip
        convert_reference_checkpoint(plain, "skeletonclr")
    assert not marker.exists()


def test_not_a_state_dict_and_wrappers(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(CheckpointError, match="not a dict of tensors"):
        convert_reference_checkpoint(path, "skeletonclr")
    state, _ = make_reference_state("skeletonclr")
    wrapped = tmp_path / "wrapped.pt"
    torch.save({"state_dict": state, "epoch": 3}, wrapped)
    assert "joint" in convert_reference_checkpoint(wrapped, "skeletonclr")
    dp = tmp_path / "dp.pt"
    torch.save({f"module.{k}": v for k, v in state.items()}, dp)
    assert "joint" in convert_reference_checkpoint(dp, "skeletonclr")


def test_unknown_method_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="unknown method"):
        convert_reference_checkpoint(tmp_path / "x.pt", "moco")
    with pytest.raises(FileNotFoundError):
        convert_reference_checkpoint(tmp_path / "nope.pt", "msmclr")


def test_cli_convert_roundtrip(tmp_path, capsys):
    src = tmp_path / "cc.pt"
    modules = write_reference_checkpoint(src, "crosscale-sgclr")
    out = tmp_path / "cc.safetensors"
    assert cli(["convert", str(src), "--method", "crosscale-sgclr", "-o", str(out)]) == 0
    assert "joint (ntu25" in capsys.readouterr().out
    meta = read_metadata(out)
    assert meta.provenance["method"] == "crosscale-sgclr"
    assert meta.provenance["source_sha256"] == sha256_file(src)
    assert meta.components["scale"].input == "grouping:crosscale_parts10"
    assert meta.components["scale"].config.layout == "coarse10"
    loaded = load_checkpoint(out)
    x = _x()
    with torch.no_grad():
        torch.testing.assert_close(loaded.encoders["joint"](x), modules["joint"][0].eval()(x))
        pooled = loaded.encoders["joint"](x)
        torch.testing.assert_close(loaded.heads["joint"](pooled), modules["joint"][1](pooled))
    # errors are reported without a traceback
    assert cli(["convert", str(src), "--method", "msmclr", "-o", str(tmp_path / "x.safetensors")]) == 2
    assert "looks like a 'crosscale-sgclr'" in capsys.readouterr().err
    # nothing is lost: not the source, not an earlier output unless asked, and a folder is named
    source_bytes, output_bytes = src.read_bytes(), out.read_bytes()
    for target, message in ((src, "is the input file"), (out, "already exists; pass --overwrite"),
                            (tmp_path, "is a folder; give a file name")):  # fmt: skip
        assert cli(["convert", str(src), "--method", "crosscale-sgclr", "-o", str(target)]) == 2
        assert message in capsys.readouterr().err
    assert (src.read_bytes(), out.read_bytes()) == (source_bytes, output_bytes)
    assert cli(["convert", str(src), "--method", "crosscale-sgclr", "-o", str(out), "--overwrite"]) == 0
    with pytest.raises(ValueError, match="is the input file"):  # the library keeps the source too
        from skeletonzoo.convert import convert_to_safetensors

        convert_to_safetensors(src, "crosscale-sgclr", src)
    assert src.read_bytes() == source_bytes


def test_parity_checkpoint_roundtrip_through_safetensors(msmclr_ref_path, tmp_path, inputs, expected_msmclr):
    out = tmp_path / "msmclr.safetensors"
    assert cli(["convert", str(msmclr_ref_path), "--method", "msmclr", "-o", str(out)]) == 0
    loaded = load_checkpoint(out)
    x = torch.from_numpy(inputs["x"])
    with torch.inference_mode():
        pooled = loaded.encoders["joint"](x)
        np.testing.assert_allclose(pooled.numpy(), expected_msmclr["enc_q_pooled"], atol=1e-5, rtol=1e-4)
        np.testing.assert_allclose(
            loaded.heads["joint"](pooled).numpy(), expected_msmclr["enc_q_head"], atol=1e-5, rtol=1e-4
        )


def test_converting_a_skeletonzoo_checkpoint_says_it_is_one_already(tmp_path):
    from skeletonzoo.convert import read_reference_state
    from skeletonzoo.exceptions import CheckpointError
    from skeletonzoo.models import SkeletonEncoder

    path = tmp_path / "ours.safetensors"
    save_checkpoint(path, {"joint": SkeletonEncoder(hidden_channels=4, hidden_dim=16)})
    with pytest.raises(CheckpointError, match="already a skeletonzoo checkpoint, nothing to convert"):
        read_reference_state(path)


@pytest.mark.parametrize("method", ["msmclr", "crosscale-sgclr"])
def test_encoder_key_mapping_matches_the_original_checkpoints_keys(method):
    """``reference_encoder_key`` against the key list the original code wrote (meta_*.json), not
    against files made with the same function: every ST-GCN tensor of the original's query
    encoder has exactly one of ours, with its shape."""
    import json

    from conftest import shared_file

    from skeletonzoo.convert import reference_encoder_key
    from skeletonzoo.models import SkeletonEncoder

    name = "msmclr" if method == "msmclr" else "crosscale"
    meta = json.loads(shared_file(f"parity/meta_{name}.json").read_text())
    stgcn = ("A", "data_bn", "st_gcn_networks", "edge_importance")
    original = {k[len("encoder_q."):]: tuple(shape) for k, shape, _ in meta["keys"]
                if k.startswith("encoder_q.") and k.split(".")[1] in stgcn}  # fmt: skip
    ours = SkeletonEncoder(in_channels=3, hidden_channels=16, hidden_dim=256).state_dict()
    mapped = {reference_encoder_key(k): tuple(v.shape) for k, v in ours.items()}
    assert mapped == original


@pytest.mark.parametrize("method, second", [("crosscale-sgclr", "scale"), ("crosview-sgclr", "motion")])
def test_second_heads_share_the_joint_head_only_with_mlp_heads(tmp_path, method, second):
    """The released CrosScale / CrosView build the second head as Linear -> ReLU -> the joint head
    itself inside `if mlp:`; with a single Linear head it is the second encoder's own."""
    from skeletonzoo.models import ProjectionHead, ScaleProjectionHead

    path = tmp_path / "mlp.pt"
    modules = write_reference_checkpoint(path, method)
    ref = load_reference_checkpoint(path, method)
    head = ref.heads[second]
    assert isinstance(head, ScaleProjectionHead) and head.shared is ref.heads["joint"]
    pre, _ = modules[second][1]
    z = torch.randn(4, 16)
    with torch.no_grad():
        torch.testing.assert_close(head(z), ref.heads["joint"](torch.relu(pre(z))))
    path = tmp_path / "linear.pt"
    write_reference_checkpoint(path, method, mlp=False)
    ref = load_reference_checkpoint(path, method)  # a CrosView file with its shared head used to be refused
    assert type(ref.heads[second]) is ProjectionHead and ref.heads[second] is not ref.heads["joint"]
    assert ref.heads[second].fc1 is None and ref.heads[second].out_features == 10
