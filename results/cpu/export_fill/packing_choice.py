"""Ternary packing: each tensor packed base 3 or as a bitmask, whichever zstd compresses smaller alone (545e063's
export), against every tensor base 3 and every tensor as a bitmask. The artifact's model bytes at fixed bits, on
the competition default's full shape with random latents (std 0.02; Gaussian: about 31% zero trits, Laplace: about
39%), and on trained artifacts given on the command line (their own shape, at 8 / 8 bits, side tensors fp32).

    git show 545e063:train_gpt.py > /tmp/train_gpt_545e063.py
    OMP_NUM_THREADS=1 python results/cpu/export_fill/packing_choice.py /tmp/train_gpt_545e063.py [ARTIFACT ...]

The script measured must have the bitmask packing (`pack_mask`), which later commits removed.
"""

import dataclasses
import importlib.util
import sys

import numpy as np
import torch


def load(path: str):
    spec = importlib.util.spec_from_file_location("train_gpt", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_gpt"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def randomized(tg, cfg, dist: str):
    torch.manual_seed(0)
    model = tg.GPT(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2 and "skip" not in name:
                w = torch.randn_like(p) if dist == "gauss" else torch.distributions.Laplace(0.0, 1.0).sample(p.shape)
                p.copy_(w * 0.02)
            else:
                p.copy_(1 + 0.1 * torch.randn_like(p))
    return model


def from_artifact(tg, path: str):
    """The trained network of an artifact; re-quantizing its ternary weights gives the same trits back."""
    config, state = tg.decode_artifact(open(path, "rb").read(), path)
    cfg = dataclasses.replace(tg.Hyperparameters.from_env({"CONFIG_PROFILE": "cpu_sample"}, cuda=False), **config)
    model = tg.GPT(cfg.validated())
    model.load_state_dict(state)
    return model, cfg


def forced(tg, packing: str):
    """pack_ternary with the choice taken away: every tensor packed `packing`."""
    def pack(w, meta):
        trits, s = tg.ternary_quantize(w.detach().float().cpu(), meta["group"], meta["scale"])
        flat = trits.flatten().numpy()
        body = tg.pack_trits(flat) if packing == "base3" else tg.pack_mask(flat)
        return s.half().numpy().tobytes() + body, {**meta, "packing": packing, "nonzero": int(np.count_nonzero(flat))}
    return pack


def measure(tg, name: str, model, cfg, bits: dict):
    choice, sizes = tg.ENCODINGS["ternary"], {}
    for packing, pack in (("choice", choice.pack), ("base3", forced(tg, "base3")), ("mask", forced(tg, "mask"))):
        tg.ENCODINGS["ternary"] = tg.Encoding(pack, choice.unpack, choice.size)
        packed = tg.encode_artifact(model, cfg, bits)
        sizes[packing] = len(packed.blob)
        if packing == "choice":
            ternary = [e for e in packed.tensors if e["encoding"] == "ternary"]
            zeros = 1 - sum(e["meta"]["nonzero"] for e in ternary) / sum(np.prod(e["shape"]) for e in ternary)
            masked = sum(e["meta"]["packing"] == "mask" for e in ternary)
    tg.ENCODINGS["ternary"] = choice
    print(f"packing weights:{name} zero_trits:{zeros:.3f} mask_tensors:{masked}/{len(ternary)} "
          + " ".join(f"bytes_model_{k}:{v}" for k, v in sizes.items()), flush=True)


def main(script: str, artifacts: list[str]):
    tg = load(script)
    cfg = tg.Hyperparameters.from_env({"CONFIG_PROFILE": "competition"}, cuda=True)  # the CUDA defaults, built on CPU
    for dist in ("gauss", "laplace"):
        measure(tg, f"random_{dist}", randomized(tg, cfg, dist), cfg, {"embed": 7, "int": 8, "side": 16})
    for path in artifacts:
        model, trained_cfg = from_artifact(tg, path)
        measure(tg, path.rsplit("/", 1)[-1], model, trained_cfg, {"embed": 8, "int": 8, "side": 32})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
