#!/usr/bin/env python3
"""PyTorch peer of bench/lc_kernels_bench.cpp: a locally connected layer built from unfold + einsum,
the way PyTorch users write it (PyTorch has no locally connected layer), on the loccon net's shapes
with CIFAR-10 inputs, batch 32. Times forward and forward+backward with CUDA events on the same GPU
and prints CSV, so the ratio to our kernels is measured in one session.
Usage: python3 bench/peers/lc_pytorch.py > bench/results/<date>-lc-pytorch-<device>.csv"""
import torch
import torch.nn.functional as F

LAYERS = [  # (batch, in_channels, size, out_channels, kernel, stride), valid padding
    (32, 3, 32, 32, 3, 1),
    (32, 32, 30, 32, 3, 2),
]


def lc_forward(x, w, kernel, stride):
    # x: (N, C, H, W); w: (P, OC, C*k*k) -> (N, OC, OH, OW)
    n = x.shape[0]
    cols = F.unfold(x, kernel, stride=stride)  # (N, C*k*k, P)
    out = torch.einsum("nkp,pok->nop", cols, w)
    side = int(round(w.shape[0] ** 0.5))
    return out.reshape(n, w.shape[1], side, side)


def time_ms(fn, repeats=50):
    for _ in range(5):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / repeats


def main():
    device = torch.device("cuda")
    print("device,layer,pass,milliseconds")
    name = torch.cuda.get_device_name(0)
    for index, (n, c, size, oc, k, s) in enumerate(LAYERS):
        out = (size - k) // s + 1
        x = torch.randn(n, c, size, size, device=device, requires_grad=True)
        w = torch.randn(out * out, oc, c * k * k, device=device, requires_grad=True)
        forward = time_ms(lambda: lc_forward(x, w, k, s))
        grad = torch.randn(n, oc, out, out, device=device)
        both = time_ms(lambda: torch.autograd.grad(lc_forward(x, w, k, s), (x, w), grad))
        print(f"{name},{index},forward,{forward:.4f}")
        print(f"{name},{index},forward+backward,{both:.4f}")


if __name__ == "__main__":
    main()
