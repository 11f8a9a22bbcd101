"""The Python module against the engine and the command line (issue 19): a few batches train from
Python, the result equals `bioprop train`'s for the same seed, and C++ errors arrive as bioprop.Error."""
import csv
import os
import subprocess

import pytest

import bioprop

QUICK = dict(rule="bp", net="dense", epochs=1, train_limit=256, test_limit=128, device="cpu", seed=3)


def test_lists_name_the_rules_nets_and_datasets():
    assert {"bp", "brainprop", "fa", "learned_feedback"} <= {r["name"] for r in bioprop.list_rules()}
    assert {"conv", "dense", "loccon"} <= {n["name"] for n in bioprop.list_nets()}
    assert "fashion-mnist" in {d["name"] for d in bioprop.list_datasets()}
    assert all(r["description"] for r in bioprop.list_rules())


def test_train_returns_the_metrics_and_the_run_folder(tmp_path):
    result = bioprop.train(run_dir=str(tmp_path), rule_options={}, augment_crop=1, lr_step_epochs=1, **QUICK)
    assert [e["epoch"] for e in result["epochs"]] == [1]
    epoch = result["epochs"][0]
    assert 0.0 <= epoch["test_accuracy"] <= 1.0 and epoch["train_loss"] > 0
    assert result["final_test_accuracy"] == epoch["test_accuracy"]
    assert (result["run_folder"] / "metrics.csv").is_file()


def test_train_equals_the_command_line_for_the_same_seed(tmp_path):
    binary = os.environ.get("BIOPROP_BINARY")
    if not binary:
        pytest.skip("BIOPROP_BINARY (the bioprop command) is not set; ctest sets it")
    flags = []
    for key, value in QUICK.items():
        flags += ["--" + key.replace("_", "-"), str(value)]
    subprocess.run([binary, "train", *flags, "--no-progress", "--run-dir", str(tmp_path / "cli")], check=True,
                   capture_output=True)
    (cli_folder,) = (tmp_path / "cli").iterdir()
    with open(cli_folder / "metrics.csv") as f:
        cli = list(csv.DictReader(f))
    python = bioprop.train(run_dir=str(tmp_path / "python"), **QUICK)["epochs"]
    assert len(cli) == len(python) == 1
    # metrics.csv keeps six decimals: the same run gives the same numbers to that precision.
    assert float(cli[0]["test_accuracy"]) == pytest.approx(python[0]["test_accuracy"], abs=1e-6)
    assert float(cli[0]["train_loss"]) == pytest.approx(python[0]["train_loss"], abs=1e-6)


def test_errors_are_python_exceptions_with_the_engines_message(tmp_path):
    assert issubclass(bioprop.Error, ValueError)
    with pytest.raises(bioprop.Error, match="unknown rule 'nosuch'"):
        bioprop.train(rule="nosuch", run_dir=str(tmp_path))
    with pytest.raises(bioprop.Error, match="unknown keyword 'epoch'"):
        bioprop.train(epoch=1, run_dir=str(tmp_path))
    with pytest.raises(bioprop.Error, match="--epochs must be at least 1|epochs"):
        bioprop.train(epochs=0, device="cpu", run_dir=str(tmp_path))


def test_checkpoint_arrays_hold_the_weights_and_the_feedback_matrices(tmp_path):
    np = pytest.importorskip("numpy")
    result = bioprop.train(run_dir=str(tmp_path), **dict(QUICK, rule="fa"))
    arrays = bioprop.checkpoint_arrays(str(result["run_folder"] / "checkpoint.bin"))
    weights = {name: a for name, a in arrays.items() if name.endswith(".weights")}
    feedback = {name: a for name, a in arrays.items() if name.endswith(".feedback")}
    assert len(weights) == 4, sorted(arrays)  # the dense net: 1500-1000-500 and the readout
    assert all(a.dtype == np.float32 and np.isfinite(a).all() for a in arrays.values())
    # FA's B has the shape of the W it stands in for, and is not W.
    for name, b in feedback.items():
        w = arrays[name[: -len(".feedback")] + ".weights"]
        assert b.shape == w.shape and not np.array_equal(b, w)
    assert feedback, sorted(arrays)
    broken = tmp_path / "broken.bin"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(bioprop.Error, match="broken.bin"):
        bioprop.checkpoint_arrays(str(broken))
