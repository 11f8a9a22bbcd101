#!/usr/bin/env python3
"""A plain NumPy simulation of segregated-dendrite training (Guerguiev, Lillicrap, Richards 2017), the peer of
bench/dendrites_bench.cpp: the same dynamics (bioprop's include/bioprop/dendrite_math.hpp), the same phases
(50 ms forward, 50 ms target, plasticity from the last 20 ms of each) and the same weight updates, one
millisecond at a time with the batch as the leading axis, as a researcher would write it in NumPy. Written
for bioprop from the equations, not from the authors' code. It times the arithmetic; its spike draws come
from NumPy's generator, so its numbers are not bioprop's.

Prints CSV: implementation,net,batch,examples,seconds,examples_per_second
"""
import argparse
import time

import numpy as np

DT, G_L, G_B, G_A, G_D, E_E, E_I = 1.0, 0.1, 0.6, 0.0, 0.6, 8.0, -8.0
PHI_MAX, TAU_S, TAU_L = 0.2, 3.0, 10.0
K_B, K_D = G_B / (G_L + G_B + G_A), G_D / (G_L + G_D)
DECAY_FAST, DECAY_SLOW = np.exp(-DT / TAU_S), np.exp(-DT / TAU_L)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class Net:
    def __init__(self, sizes, rng):
        self.sizes = sizes
        self.rng = rng
        self.w = [rng.uniform(-0.05, 0.05, (sizes[l + 1], sizes[l])).astype(np.float32) for l in range(len(sizes) - 1)]
        self.b = [np.full(sizes[l + 1], 0.8, np.float32) for l in range(len(sizes) - 1)]
        outputs = sizes[-1]
        # broadcast feedback: every hidden layer's apical input from the output layer's PSPs
        self.y = [rng.uniform(-0.1, 0.1, (sizes[l + 1], outputs)).astype(np.float32) for l in range(len(sizes) - 2)]
        self.c = [np.zeros(sizes[l + 1], np.float32) for l in range(len(sizes) - 2)]

    def run(self, rates, labels, steps, window, state, sums):
        layers = len(self.w)
        for t in range(steps):
            in_window = t >= steps - window
            spikes = self.rng.poisson(rates).astype(np.float32)
            psp = self.filter(0, spikes, state)
            if in_window:
                sums["psp"][0] += psp
            for l in range(layers):
                basal = state["psp"][l] @ self.w[l].T + self.b[l]
                soma = state["soma"][l]
                if l + 1 < layers:
                    apical = state["psp"][layers] @ self.y[l].T + self.c[l]
                    soma += DT * (-G_L * soma + G_B * (basal - soma) + G_A * (apical - soma))
                    if in_window:
                        sums["apical"][l] += apical
                else:
                    du = -G_L * soma + G_D * (basal - soma)
                    if labels is not None:
                        g_e = np.zeros_like(soma)
                        g_e[np.arange(len(labels)), labels] = 1.0
                        du += g_e * (E_E - soma) + (1.0 - g_e) * (E_I - soma)
                    soma += DT * du
                rate = PHI_MAX * sigmoid(soma)
                psp = self.filter(l + 1, self.rng.poisson(rate * DT).astype(np.float32), state)
                if in_window:
                    sums["soma"][l] += soma
                    sums["rate"][l] += rate
                    sums["psp"][l + 1] += psp

    @staticmethod
    def filter(index, spikes, state):
        state["fast"][index] = DECAY_FAST * (state["fast"][index] + spikes)
        state["slow"][index] = DECAY_SLOW * (state["slow"][index] + spikes)
        state["psp"][index] = (state["slow"][index] - state["fast"][index]) / (TAU_L - TAU_S)
        return state["psp"][index]

    def train_step(self, images, labels, lr=0.21, phase=50, window=20):
        n = images.shape[0]
        zeros = lambda size: np.zeros((n, size), np.float32)
        state = {key: [zeros(s) for s in self.sizes] for key in ("fast", "slow", "psp")}
        state["soma"] = [zeros(s) for s in self.sizes[1:]]
        forward, target = ({key: [zeros(s) for s in self.sizes[1:]] for key in ("soma", "apical", "rate")}
                           for _ in range(2))
        forward["psp"] = [zeros(s) for s in self.sizes]
        target["psp"] = [zeros(s) for s in self.sizes]
        rates = PHI_MAX * images
        self.run(rates, None, phase, window, state, forward)
        self.run(rates, labels, phase, window, state, target)
        top = len(self.w) - 1
        u = forward["soma"][top] / window
        s = sigmoid(u)
        error = (target["rate"][top] / window - PHI_MAX * s) * s * (1 - s)
        scale = lr * 20.0 / PHI_MAX**2 * K_D * PHI_MAX / n
        self.update(top, error, forward["psp"][top] / window, scale)
        for l in range(top):
            difference = sigmoid(target["apical"][l] / window) - sigmoid(forward["apical"][l] / window)
            s = sigmoid(forward["soma"][l] / window)
            self.update(l, difference * s * (1 - s), forward["psp"][l] / window, lr * 20.0 / PHI_MAX * K_B * PHI_MAX / n)

    def update(self, l, error, psp, scale):
        self.w[l] += scale * error.T @ psp
        self.b[l] += scale * error.sum(axis=0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--net", default="784-500-10", help="layer sizes, e.g. 784-500-100-10")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--examples", type=int, default=20, help="training examples to time (after one warm-up)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.net.split("-")]
    rng = np.random.default_rng(1)
    net = Net(sizes, rng)
    images = rng.uniform(0, 1, (args.batch, sizes[0])).astype(np.float32)
    labels = np.arange(args.batch) % sizes[-1]
    net.train_step(images, labels)  # warm-up
    steps = max(1, args.examples // args.batch)
    start = time.perf_counter()
    for _ in range(steps):
        net.train_step(images, labels)
    seconds = time.perf_counter() - start
    examples = steps * args.batch
    print(f"numpy,{args.net},{args.batch},{examples},{seconds:.3f},{examples / seconds:.2f}")


if __name__ == "__main__":
    main()
