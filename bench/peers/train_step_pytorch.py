#!/usr/bin/env python3
"""PyTorch peer of bench/rule_step_bench.cpp: one training step (forward, credit assignment, SGD
update) of the BrainProp nets as the reference code builds them (ReLU then batch norm after every
convolutional or locally connected layer, its dropout; locally connected layers from unfold + einsum,
the way PyTorch users write them), with backprop (softmax cross-entropy) and with BrainProp written
the way PyTorch users would: autograd on 1/2 (r - Z_a)^2 of the unit each trial chose. CIFAR-10
shapes, batch 128 (32 for loccon), plain SGD lr 0.1, no biases, training mode: the same work as our
benchmark. Prints CSV rows: device,rule,net,batch,images_per_second,epoch_seconds_50k.
Usage: python3 bench/peers/train_step_pytorch.py [--device cuda|cpu] [--steps N] [--nets conv,loccon,deep]
(Debian's python3-torch 1.13 runs the CPU comparison: bench/run_cpu.sh.)"""
import argparse
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LocallyConnected2d(nn.Module):
    """Unshared 3x3 weights per output position, "valid" padding: unfold + einsum."""

    def __init__(self, in_channels, out_channels, size, kernel, stride):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.out_size = (size - kernel) // stride + 1
        positions = self.out_size * self.out_size
        self.weight = nn.Parameter(torch.randn(positions, out_channels, in_channels * kernel * kernel) * 0.005)

    def forward(self, x):
        cols = F.unfold(x, self.kernel, stride=self.stride)  # (N, C*k*k, P)
        out = torch.einsum("nkp,pok->nop", cols, self.weight)
        return out.reshape(x.shape[0], self.weight.shape[1], self.out_size, self.out_size)


def conv_block(in_channels, out_channels, stride=1):
    return [nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False), nn.ReLU(),
            nn.BatchNorm2d(out_channels, eps=1e-3, momentum=0.01)]


def make_net(name, classes=10):
    if name == "conv":
        layers = conv_block(3, 32) + conv_block(32, 32, 2) + [nn.Dropout(0.3), nn.Flatten(),
                                                              nn.Linear(32 * 16 * 16, 500, bias=False)]
    elif name == "loccon":
        layers = [LocallyConnected2d(3, 32, 32, 3, 1), nn.ReLU(), nn.BatchNorm2d(32, eps=1e-3, momentum=0.01),
                  LocallyConnected2d(32, 32, 30, 3, 2), nn.ReLU(), nn.BatchNorm2d(32, eps=1e-3, momentum=0.01),
                  nn.Dropout(0.3), nn.Flatten(), nn.Linear(32 * 14 * 14, 500, bias=False)]
    elif name == "deep":
        layers = (conv_block(3, 64) + conv_block(64, 64) + [nn.MaxPool2d(2), nn.Dropout(0.3)] +
                  conv_block(64, 128) + conv_block(128, 128) + [nn.MaxPool2d(2), nn.Dropout(0.3)] +
                  conv_block(128, 128) + conv_block(128, 128) + conv_block(128, 128) +
                  [nn.MaxPool2d(2), nn.Dropout(0.8), nn.Flatten(), nn.Linear(128 * 4 * 4, 500, bias=False)])
    else:
        raise ValueError(name)
    layers += [nn.ReLU(), nn.Dropout(0.3), nn.Linear(500, classes, bias=False)]
    net = nn.Sequential(*layers)
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(module.weight, 0.0, 0.005)
    return net


def bp_loss(z, labels):
    return F.cross_entropy(z, labels)


def brainprop_loss(z, labels, epsilon=0.02):
    # The chosen unit: greedy, or with probability epsilon drawn from softmax(z) (the reference code).
    with torch.no_grad():
        greedy = z.argmax(1)
        sampled = torch.multinomial(torch.softmax(z, 1), 1).squeeze(1)
        explore = torch.rand(z.shape[0], device=z.device) < epsilon
        actions = torch.where(explore, sampled, greedy)
        rewards = (actions == labels).float()
    chosen = z.gather(1, actions[:, None]).squeeze(1)
    return 0.5 * ((rewards - chosen) ** 2).mean()


def images_per_second(net, loss_fn, batch, device, steps):
    x = torch.rand(batch, 3, 32, 32, device=device)
    labels = torch.arange(batch, device=device) % 10
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    net.train()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_fn(net(x), labels).backward()
        optimizer.step()

    for _ in range(5):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def reset_peak_resident_memory():
    # The same measure as `bioprop bench`: the process's peak resident size since this reset.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_resident_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--nets", default="conv,loccon,deep")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)  # all cores, as our CPU backend's OpenMP
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else f"cpu-{torch.get_num_threads()}-threads"
    torch.manual_seed(1)
    print("device,rule,net,batch,images_per_second,epoch_seconds_50k,peak_resident_mib,peak_device_mib")
    for net_name in args.nets.split(","):
        batch = 32 if net_name == "loccon" else 128
        for rule, loss_fn in (("bp", bp_loss), ("brainprop", brainprop_loss)):
            reset_peak_resident_memory()
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            net = make_net(net_name).to(device)
            rate = images_per_second(net, loss_fn, batch, device, args.steps)
            on_device = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else 0.0
            print(f"{name},{rule},{net_name},{batch},{rate:.1f},{50000 / rate:.2f},{peak_resident_mib():.1f},"
                  f"{on_device:.1f}", flush=True)
            del net


if __name__ == "__main__":
    main()
