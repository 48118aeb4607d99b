"""UCMFH training throughput (pairs per second) on CPU, through the plugin's own `fit`.

    python benchmarks/train_speed.py                 # torch's default thread count
    python benchmarks/train_speed.py --threads 1 --iterations 40

The model is the paper's (22,051,072 parameters at 128 bits); features are random unit vectors
(throughput does not depend on their values). A short warm-up fit runs first (allocations,
kernel selection), then a timed fit of `--iterations` iterations of batch 128. Encoding
throughput (items per second, eval mode, no gradients) is measured too.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from hashbench_plugins.methods.ucmfh import UCMFH

from hashbench import MethodContext, TrainData


def _method(bits: int, device: torch.device, **overrides) -> UCMFH:
    params = UCMFH.resolve_params("mirflickr", "paper")
    params.update(overrides)
    context = MethodContext(
        bits=bits, params=params, device=device, seed=0, feature_dims={"image": 512, "text": 512}
    )
    return UCMFH(context)


def _data(n: int, device: torch.device) -> TrainData:
    feats = {m: F.normalize(torch.randn(n, 512, device=device), dim=1) for m in ("image", "text")}
    return TrainData(features=feats, labels=None, protocol="mirflickr", num_labels=24)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=20, help="timed training iterations")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's own choice)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--encode-items", type=int, default=4096)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    batch = 128

    method = _method(args.bits, device, epochs=1)
    method.fit(_data(3 * batch, device))  # warm-up: 3 iterations
    method = _method(args.bits, device, epochs=1)
    data = _data(args.iterations * batch, device)
    _sync(device)
    start = time.perf_counter()
    method.fit(data)
    _sync(device)
    train_s = time.perf_counter() - start

    inputs = dict(_data(args.encode_items, device).features)
    with torch.no_grad():
        method.encode("image", inputs)  # warm-up
        _sync(device)
        start = time.perf_counter()
        method.encode("image", inputs)
        _sync(device)
        encode_s = time.perf_counter() - start

    print(
        f"UCMFH {args.bits} bits, {method.num_parameters():,} parameters, device {device}, "
        f"{torch.get_num_threads()} torch threads"
    )
    print(
        f"training: {args.iterations} iterations of batch {batch} in {train_s:.2f} s = "
        f"{args.iterations * batch / train_s:.0f} pairs/s "
        f"({train_s / args.iterations * 1000:.0f} ms/iteration)"
    )
    print(
        f"encoding: {args.encode_items} items in {encode_s:.2f} s = "
        f"{args.encode_items / encode_s:.0f} items/s"
    )


if __name__ == "__main__":
    main()
