"""Trains FA step by step from NumPy arrays (Fashion-MNIST through torchvision works the same way: any
arrays), then hands the learned weights and feedback matrices to PyTorch without a copy.

    PYTHONPATH=build/python python3 examples/arrays_and_torch.py
"""
import numpy as np

import bioprop

# Any data held in Python as arrays: here a made-up task (which half of the image is brighter).
rng = np.random.default_rng(0)
y = rng.integers(0, 2, size=2048)
x = rng.random((2048, 1, 28, 28), dtype=np.float32) * 0.5
x[y == 1, :, :14] += 0.5  # class 1: the top half is brighter; class 0: the bottom half
x[y == 0, :, 14:] += 0.5
data = bioprop.Dataset.from_arrays(x[:1536], y[:1536], x[1536:], y[1536:])
print(data)

t = bioprop.Trainer(rule="fa", net="dense", dataset=data, epochs=3, optimizer="adam", lr=0.001, progress=False)
for i in range(0, 1536, 64):  # research code's own loop: one step per batch
    result = t.step(x[i:i + 64], y[i:i + 64])
print("after one pass of steps:", t.evaluate())
print("then an epoch through the scheduler:", t.fit_epoch())

try:
    import torch
except ImportError:
    raise SystemExit("PyTorch is not installed (apt-get install python3-torch): no hand-off")
W = torch.from_dlpack(t.dlpack("layer6.dense.weights"))   # the readout's W, shared with the trainer
B = torch.from_dlpack(t.dlpack("layer6.dense.feedback"))  # FA's fixed random feedback B
cosine = torch.nn.functional.cosine_similarity(W.flatten(), B.flatten(), dim=0)
print(f"readout: W {tuple(W.shape)}, angle between W and B {torch.rad2deg(torch.acos(cosine)).item():.1f} degrees")
