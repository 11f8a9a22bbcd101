"""bioprop.Trainer and bioprop.Dataset (issue 19): step-level training from arrays, the same numbers as
bioprop.train, exact continuation from checkpoints, weights out and in (NumPy copies, DLPack views), and
Ctrl-C stopping a run safely."""
import os
import signal
import threading

import numpy as np
import pytest

import bioprop

QUICK = dict(rule="bp", net="dense", train_limit=256, test_limit=128, device="cpu", seed=3, progress=False)


def two_blobs(count, seed, dtype=np.float32):
    """A learnable task (also for nets without biases): the class says which half of the image is brighter."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=count)
    images = rng.random((count, 1, 8, 8)) * 0.5
    images[labels == 1, :, :, :4] += 0.5
    images[labels == 0, :, :, 4:] += 0.5
    if dtype == np.uint8:
        return (images * 255).astype(np.uint8), labels
    return images.astype(dtype), labels


def trainer_on(data, tmp_path, **keywords):
    settings = dict(dataset=data, rule="bp", net="dense", batch_size=32, device="cpu", seed=5, lr=0.05,
                    run_dir=str(tmp_path), progress=False)
    settings.update(keywords)
    return bioprop.Trainer(**settings)


def test_a_few_batches_from_numpy_arrays_learn(tmp_path):
    x, y = two_blobs(512, 1, np.uint8)
    x_test, y_test = two_blobs(256, 2, np.uint8)
    data = bioprop.Dataset.from_arrays(x, y, x_test, y_test)
    assert (data.train_size, data.test_size, data.classes, data.sample_shape) == (512, 256, 2, (1, 8, 8))
    t = trainer_on(data, tmp_path, optimizer="adam", lr=0.001)
    before = t.evaluate()
    steps = [t.step(x[i:i + 32], y[i:i + 32]) for _ in range(3) for i in range(0, 512, 32)]
    assert all(np.isfinite(s["loss"]) and 0 <= s["accuracy"] <= 1 for s in steps)
    after = t.evaluate()
    assert after["loss"] < before["loss"] and after["accuracy"] > 0.9, (before, after)
    # The same data as N x features (flattened) and as float32 give the same step as uint8 scaled to [0, 1].
    flat = trainer_on(data, tmp_path)
    shaped = trainer_on(data, tmp_path)
    a = flat.step((x[:32].reshape(32, 64) / np.float32(255)).astype(np.float32), y[:32])
    b = shaped.step(x[:32], y[:32])
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-6)


def test_fit_epoch_equals_bioprop_train_for_the_same_seed(tmp_path):
    whole = bioprop.train(epochs=2, run_dir=str(tmp_path / "train"), **QUICK)["epochs"]
    t = bioprop.Trainer(epochs=2, run_dir=str(tmp_path / "trainer"), **QUICK)
    stepped = [t.fit_epoch(), t.fit_epoch()]
    for a, b in zip(whole, stepped):
        for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
            assert a[key] == b[key], key
    assert t.metrics == stepped and t.epoch == 3
    summary = t.finish()
    assert summary["final_test_accuracy"] == whole[-1]["test_accuracy"]
    assert (t.run_folder / "summary.json").is_file() and (t.run_folder / "metrics.csv").is_file()


def test_load_continues_a_saved_run_bit_for_bit(tmp_path):
    data = bioprop.Dataset.from_arrays(*two_blobs(320, 3), *two_blobs(64, 4))
    straight = trainer_on(data, tmp_path, optimizer="adam", lr=0.001, epochs=2)
    straight.fit_epoch()
    straight.save(str(tmp_path / "after-one.bin"))
    straight.fit_epoch()
    resumed = bioprop.Trainer.load(str(tmp_path / "after-one.bin"), dataset=data, run_dir=str(tmp_path))
    assert resumed.epoch == 2
    resumed.fit_epoch()
    for name in straight.parameter_names():
        assert np.array_equal(straight.get(name), resumed.get(name)), name
    with pytest.raises(bioprop.Error, match="trained on arrays"):
        bioprop.Trainer.load(str(tmp_path / "after-one.bin"), run_dir=str(tmp_path))


def test_weights_round_trip_through_numpy(tmp_path):
    data = bioprop.Dataset.from_arrays(*two_blobs(64, 5), *two_blobs(32, 6))
    t = trainer_on(data, tmp_path, rule="fa")
    names = t.parameter_names()
    assert "layer0.dense.weights" in names and any(n.endswith(".feedback") for n in names), names
    w = t.get("layer0.dense.weights")
    changed = (w * 2 + 1).astype(np.float32)
    t.set("layer0.dense.weights", changed)
    assert np.array_equal(t.get("layer0.dense.weights"), changed)
    assert np.array_equal(t.weights()["layer0.dense.weights"], changed)
    # A copy: changing it leaves the trainer's weights alone.
    copy = t.get("layer0.dense.weights")
    copy[:] = 0
    assert np.array_equal(t.get("layer0.dense.weights"), changed)
    with pytest.raises(bioprop.Error, match=r"shape \(3, 3\) given, the parameter has shape \(1500, 64\)"):
        t.set("layer0.dense.weights", np.zeros((3, 3), np.float32))
    with pytest.raises(bioprop.Error, match="no parameter 'nosuch'"):
        t.get("nosuch")
    x, y = two_blobs(32, 7)
    t.step(x, y)
    grads = t.gradients()
    assert grads["layer0.dense.weights"].shape == (1500, 64) and np.abs(grads["layer0.dense.weights"]).sum() > 0


def test_dlpack_views_share_the_trainers_memory(tmp_path):
    data = bioprop.Dataset.from_arrays(*two_blobs(64, 8), *two_blobs(32, 9))
    t = trainer_on(data, tmp_path)
    view = np.from_dlpack(t.dlpack("layer6.dense.weights"))
    assert view.shape == (2, 500) and view.dtype == np.float32
    assert np.array_equal(view, t.get("layer6.dense.weights"))
    x, y = two_blobs(32, 10)
    t.step(x, y)
    # No copy: the view shows the update the step made.
    assert np.array_equal(view, t.get("layer6.dense.weights"))
    del t  # the view keeps the trainer's memory alive
    assert np.isfinite(view).all()


def test_dlpack_hand_off_to_pytorch(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (Debian: python3-torch)")
    data = bioprop.Dataset.from_arrays(*two_blobs(64, 11), *two_blobs(32, 12))
    t = trainer_on(data, tmp_path)
    weights = torch.from_dlpack(t.dlpack("layer0.dense.weights"))
    assert tuple(weights.shape) == (1500, 64)
    assert np.array_equal(weights.numpy(), t.get("layer0.dense.weights"))
    # A torch tensor as a batch, read in place (float32 on the CPU).
    x, y = two_blobs(32, 13)
    a = t.step(torch.from_numpy(x), torch.from_numpy(y))
    assert np.isfinite(a["loss"])
    assert np.array_equal(weights.numpy(), t.get("layer0.dense.weights"))


def test_bad_input_is_a_python_exception_naming_it(tmp_path):
    x, y = two_blobs(64, 14)
    data = bioprop.Dataset.from_arrays(x, y, x[:16], y[:16])
    t = trainer_on(data, tmp_path)
    with pytest.raises(bioprop.Error, match=r"x: an array of shape \(4, 3, 8, 8\)"):
        t.step(np.zeros((4, 3, 8, 8), np.float32), np.zeros(4))
    with pytest.raises(bioprop.Error, match=r"y\[1\] = 7.*\[0, 2\)"):
        t.step(x[:2], np.array([0, 7]))
    with pytest.raises(bioprop.Error, match="expected 2 class indexes"):
        t.step(x[:2], np.array([0, 1, 1]))
    with pytest.raises(bioprop.Error, match="int64 are not taken"):
        t.step(x[:2].astype(np.int64), y[:2])
    with pytest.raises(bioprop.Error, match="split 'dev'"):
        t.evaluate("dev")
    with pytest.raises(bioprop.Error, match="training samples of shape"):
        bioprop.Dataset.from_arrays(x, y, np.zeros((4, 1, 4, 4), np.float32), y[:4])
    with pytest.raises(bioprop.Error, match="unknown keyword 'epoch'"):
        bioprop.Trainer(epoch=1)


def test_ctrl_c_stops_after_the_step_with_a_checkpoint_to_continue_from(tmp_path):
    data = bioprop.Dataset.from_arrays(*two_blobs(60000, 15), *two_blobs(64, 16))
    t = trainer_on(data, tmp_path, batch_size=16)
    python_handler = signal.getsignal(signal.SIGINT)
    timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt, match="checkpoint written to .*checkpoint.bin") as stopped:
        t.fit_epoch()  # about 3750 steps: far longer than the timer
    timer.join()
    assert signal.getsignal(signal.SIGINT) is python_handler  # Python's handler is back
    checkpoint = str(stopped.value).split("checkpoint written to ")[1].split(";")[0]
    resumed = bioprop.Trainer.load(checkpoint, dataset=data, run_dir=str(tmp_path))
    assert resumed.epoch == 1
    for name in t.parameter_names():  # the checkpoint holds the weights as they were at the stop
        assert np.array_equal(t.get(name), resumed.get(name)), name
