#!/usr/bin/python3
"""Write a random Switchboard/Mixtral checkpoint (config.json + model.safetensors) for developing and testing the
PyTorch reference without the TypeScript side.

    /usr/bin/python3 scripts/torch_ref/make_random_checkpoint.py DIR --preset tiny|small
        [--seed N] [--std S] [--dtype f32|f16] [--shared-expert-size S] [--tie] [--no-norm-topk]

Presets: tiny  = vocab 512, hidden 32, inter 32, 2 layers, 4 heads, 2 kv heads, 4 experts top-2, max pos 128;
         small = vocab 4611, hidden 128, inter 128, 4 layers, 4 heads, 4 kv heads, 16 experts top-4, untied,
                 max pos 1024.
Linear/embedding weights ~ N(0, std²) (default 0.02); norm weights ~ 1 + N(0, 0.1²) so that a forward which
ignores them is caught by a cross-check.  config.json carries every key kernel-lib/checkpoint/hf-config.ts requires
(model_type, initializer_range, switchboard.format_version = 1, ...), so the TypeScript side can load it too.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mixtral_ref import RefConfig  # noqa: E402
from safetensors_io import save_file  # noqa: E402

PRESETS: Dict[str, Dict[str, Any]] = {
    "tiny": dict(vocab_size=512, hidden_size=32, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2, max_position_embeddings=128,
                 tie_word_embeddings=False),
    "small": dict(vocab_size=4611, hidden_size=128, intermediate_size=128, num_hidden_layers=4,
                  num_attention_heads=4, num_key_value_heads=4, num_local_experts=16, num_experts_per_tok=4,
                  max_position_embeddings=1024, tie_word_embeddings=False),
}


def make_config(preset: str, shared_expert_size: int = 0, tie: Optional[bool] = None,
                norm_topk_prob: bool = True) -> Dict[str, Any]:
    cfg: Dict[str, Any] = {"architectures": ["MixtralForCausalLM"], "model_type": "mixtral"}
    cfg.update(PRESETS[preset])
    cfg.update(rope_theta=10000.0, rms_norm_eps=1e-5, router_aux_loss_coef=0.01, hidden_act="silu", initializer_range=0.02,
               torch_dtype="float32")
    if tie is not None:
        cfg["tie_word_embeddings"] = tie
    cfg["switchboard"] = {"format_version": 1, "norm_topk_prob": norm_topk_prob,
                          "shared_expert_size": shared_expert_size}
    return cfg


def random_tensors(cfg: Dict[str, Any], seed: int = 0, std: float = 0.02) -> Dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out: Dict[str, torch.Tensor] = {}
    for name, shape in RefConfig(cfg).tensor_shapes().items():
        if len(shape) == 1:
            out[name] = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:
            out[name] = std * torch.randn(shape, generator=g)
    return out


def write_checkpoint(out_dir: str, cfg: Dict[str, Any], tensors: Dict[str, torch.Tensor], dtype: str = "f32") -> None:
    os.makedirs(out_dir, exist_ok=True)
    dt = {"f32": torch.float32, "f16": torch.float16}[dtype]
    cfg = dict(cfg, torch_dtype="float16" if dtype == "f16" else "float32")
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)
    save_file({n: t.to(dt) for n, t in tensors.items()}, os.path.join(out_dir, "model.safetensors"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--std", type=float, default=0.02)
    ap.add_argument("--dtype", choices=["f32", "f16"], default="f32")
    ap.add_argument("--shared-expert-size", type=int, default=0)
    ap.add_argument("--tie", action="store_true", help="tie_word_embeddings (no lm_head.weight)")
    ap.add_argument("--no-norm-topk", action="store_true", help="switchboard.norm_topk_prob = false")
    a = ap.parse_args()
    cfg = make_config(a.preset, a.shared_expert_size, True if a.tie else None, not a.no_norm_topk)
    cfg["initializer_range"] = a.std  # the TS reader (kernel-lib/checkpoint/hf-config.ts) requires it
    write_checkpoint(a.dir, cfg, random_tensors(cfg, a.seed, a.std), a.dtype)
    print(json.dumps({"dir": a.dir, "preset": a.preset, "dtype": a.dtype}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
