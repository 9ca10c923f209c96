#!/usr/bin/python3
""""PyTorch eager" CPU baseline for the Switchboard benchmark, on the reference model of mixtral_ref.py
(float32, Mixtral-eager sparse MoE: a Python loop over the experts that received tokens).

    /usr/bin/python3 scripts/torch_ref/bench_torch.py --checkpoint DIR [--threads 1|2] [--quick]

Prints ONE JSON object on stdout (progress goes to stderr).  What is measured (batch 1 unless stated):
  decode    for each start position P in --positions (default 16,128,512): prefill P random ids into a fresh KV
            cache (untimed), then time --decode-steps (default 32) single-token greedy steps (argmax over the whole
            vocab, the token read back to Python each step) starting at position P.  Twice: routing capture OFF
            (routing tensors dropped) and ON (every step, every layer's chosen indices, weights and full router
            probabilities copied to Python lists, as a routing visualiser would).  One untimed warm-up run per
            (P, mode), then the median tokens/s of --repeats runs.  Positions with P + steps > max_position_embeddings
            are skipped and listed under "skipped".
  prefill   one 256-token random prompt into a fresh KV cache; median tokens/s of --repeats runs after a warm-up.
  image     time to generate 64 image codes (8-token random prompt prefill + 63 single-token steps + 64 samples,
            temperature 1, sampling restricted to the image-code range): without CFG (batch 1) and with CFG
            (batch 2: conditional row = the prompt, unconditional row = the same length of token 0; logits =
            u + s·(c − u), s = 3; the sampled code is fed to both rows).  The code range is
            switchboard.tokenizer_layout.{imageCodeStart, numImageCodes} from config.json when present, else the
            whole vocabulary (reported in "code_range_source").  Median seconds of --repeats runs after a warm-up.
  train     AdamW (lr 1e-3, weight decay 0.1) on batch 8 x 128 random ids: next-token cross-entropy + router_aux_loss_coef
            (config, default 0.01) x Switch load-balancing loss (mixtral_ref.load_balancing_loss: all layers pooled,
            aux = E·Σ f_e·P_e with f_e the fraction of (token, slot) assignments to e).  2 warm-up steps, then the
            median over --train-steps (default 5) timed steps; tokens/s = 8·128 / step seconds.
JSON layout (numbers are medians; "runs" lists every repeat):
  {"torch_version", "threads", "interop_threads", "model": {...}, "quick",
   "decode": {"16": {"position": 16, "capture_off": {"tokens_per_s", "runs"}, "capture_on": {...}}, "128": ..., "512": ...},
   "decode_settings": {"batch", "greedy", "steps", "repeats", "skipped_positions"},
   "prefill": {"prompt_tokens", "tokens_per_s", "runs"},
   "image": {"codes", "code_range", "code_range_source", "no_cfg": {"seconds", "runs"}, "cfg": {"seconds", "scale", "runs"}},
   "train": {"batch": [8, 128], "tokens_per_s", "step_seconds_median", "step_seconds", "ce_first", "ce_last", ...}}
  blas      which BLAS PyTorch's matrix products run on: where libblas.so.3 resolves on this machine, the BLAS
            libraries actually mapped into this process (/proc/self/maps; LD_LIBRARY_PATH can differ from the
            system link), their kind ("openblas", "reference" = netlib, "blis", "atlas", "mkl", "unknown"), the
            OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE environment, and a 512x512 float32 matmul in GFLOP/s at --threads.
            --blas-only prints just {"blas": ...} (a second or two) so the benchmark can check before it starts.
--quick (smoke test): 4 decode steps, 1 repeat, 32-token prefill, 8 codes, 1 warm-up + 1 train step on 2x16.
All decoding runs under torch.inference_mode().  --threads sets torch.set_num_threads (default 1, matching the
single-threaded TF.js wasm backend in Node); inter-op threads are set to 1.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mixtral_ref import MixtralRef, load_balancing_loss  # noqa: E402


def log(msg: str) -> None:
    print(f"[bench_torch] {msg}", file=sys.stderr, flush=True)


LIBBLAS = "/usr/lib/x86_64-linux-gnu/libblas.so.3"
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def blas_kind(path: str) -> str:
    """The BLAS implementation a libblas.so.3 path belongs to (Debian's alternatives layout)."""
    p = path.lower()
    for kind in ("openblas", "blis", "atlas", "mkl"):
        if kind in p:
            return kind
    # netlib's reference implementation is the libblas3 package: /usr/lib/<triplet>/blas/libblas.so.3*
    if "/blas/libblas.so" in p:
        return "reference"
    return "unknown"


def blas_info(threads: int) -> Dict[str, Any]:
    mapped: List[str] = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and any(k in os.path.basename(parts[-1]) for k in ("blas", "mkl", "blis")):
                if parts[-1] not in mapped:
                    mapped.append(parts[-1])
    # The library that answers sgemm_ is the one mapped under the name libblas.so.3 (torch links that name).
    loaded = next((m for m in mapped if os.path.basename(m).startswith("libblas.so")), mapped[0] if mapped else "")
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    for _ in range(3):
        a @ b
    n, t0 = 0, time.perf_counter()
    while n < 10 or time.perf_counter() - t0 < 0.5:
        a @ b
        n += 1
    gflops = 2 * 512 ** 3 * n / (time.perf_counter() - t0) / 1e9
    return {"libblas_so_3": os.path.realpath(LIBBLAS) if os.path.exists(LIBBLAS) else None,
            "loaded": loaded, "mapped": mapped, "kind": blas_kind(loaded) if loaded else "unknown",
            "env": {k: os.environ[k] for k in BLAS_ENV if k in os.environ},
            "matmul_512_gflops": gflops, "threads": threads}


def median_of(fn: Callable[[], float], repeats: int, warmup: int = 1) -> Tuple[float, List[float]]:
    for _ in range(warmup):
        fn()
    vals = [fn() for _ in range(repeats)]
    return statistics.median(vals), vals


def capture(routing: List[Dict[str, torch.Tensor]]) -> List[Tuple[Any, Any, Any]]:
    return [(r["indices"].tolist(), r["weights"].tolist(), r["probs"].tolist()) for r in routing]


def decode_tokens_per_s(model: MixtralRef, P: int, steps: int, capture_on: bool, seed: int) -> float:
    g = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, model.cfg.vocab_size, (1, P), generator=g)
    cache = model.new_cache(P + steps)
    sink: List[Any] = []
    out_tokens: List[int] = []
    with torch.inference_mode():
        logits, _ = model(prompt, cache)
        nxt = logits[:, -1].argmax(-1, keepdim=True)
        t0 = time.perf_counter()
        for _ in range(steps):
            logits, routing = model(nxt, cache)
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            out_tokens.append(int(nxt))
            if capture_on:
                sink.append(capture(routing))
        dt = time.perf_counter() - t0
    assert cache.length == P + steps
    return steps / dt


def prefill_tokens_per_s(model: MixtralRef, n: int, seed: int) -> float:
    ids = torch.randint(0, model.cfg.vocab_size, (1, n), generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        cache = model.new_cache(n)
        t0 = time.perf_counter()
        logits, _ = model(ids, cache)
        int(logits[0, -1].argmax())
        return n / (time.perf_counter() - t0)


def image_seconds(model: MixtralRef, code_lo: int, code_hi: int, n_codes: int, prompt_len: int,
                  cfg_scale: Optional[float], seed: int) -> float:
    g = torch.Generator().manual_seed(seed)
    text_hi = code_lo if code_lo > 0 else model.cfg.vocab_size
    prompt = torch.randint(0, text_hi, (1, prompt_len), generator=g)
    if cfg_scale is not None:
        prompt = torch.cat([prompt, torch.zeros_like(prompt)], dim=0)  # row 1: unconditional (token 0 x len)
    B = prompt.shape[0]
    cache = model.new_cache(prompt_len + n_codes)
    codes: List[int] = []
    with torch.inference_mode():
        t0 = time.perf_counter()
        logits, _ = model(prompt, cache)
        for step in range(n_codes):
            last = logits[:, -1, code_lo:code_hi]
            if cfg_scale is not None:
                last = last[1:2] + cfg_scale * (last[0:1] - last[1:2])
            code = int(torch.multinomial(torch.softmax(last, dim=-1), 1, generator=g)) + code_lo
            codes.append(code)
            if step + 1 < n_codes:
                logits, _ = model(torch.full((B, 1), code, dtype=torch.long), cache)
        dt = time.perf_counter() - t0
    assert len(codes) == n_codes
    return dt


def train_bench(ckpt: str, steps: int, warmup: int, batch: int, seq: int, seed: int) -> Dict[str, Any]:
    model = MixtralRef.from_checkpoint(ckpt)  # a fresh copy: training changes the weights
    model.train()
    cfg = model.cfg
    coef = cfg.router_aux_loss_coef
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    g = torch.Generator().manual_seed(seed)
    times: List[float] = []
    losses: List[Tuple[float, float]] = []
    for i in range(warmup + steps):
        ids = torch.randint(0, cfg.vocab_size, (batch, seq), generator=g)
        t0 = time.perf_counter()
        logits, routing = model(ids)
        ce = F.cross_entropy(logits[:, :-1].reshape(-1, cfg.vocab_size), ids[:, 1:].reshape(-1))
        aux = load_balancing_loss(routing, cfg.num_experts)
        loss = ce + coef * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        losses.append((float(ce), float(aux)))
        if i >= warmup:
            times.append(dt)
    med = statistics.median(times)
    return {"batch": [batch, seq], "optimizer": "AdamW lr=1e-3 weight_decay=0.1", "router_aux_loss_coef": coef,
            "warmup_steps": warmup, "timed_steps": steps, "step_seconds_median": med,
            "step_seconds": times, "tokens_per_s": batch * seq / med,
            "ce_first": losses[0][0], "ce_last": losses[-1][0], "aux_first": losses[0][1], "aux_last": losses[-1][1]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--positions", default="16,128,512")
    ap.add_argument("--decode-steps", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--prefill-tokens", type=int, default=256)
    ap.add_argument("--image-codes", type=int, default=64)
    ap.add_argument("--train-steps", type=int, default=5)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 4 decode steps, 1 repeat, 32-token prefill, 8 codes, 1+1 train steps on 2x16")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--blas-only", action="store_true", help="print only the BLAS description and exit")
    a = ap.parse_args()
    if a.threads < 1:
        ap.error("--threads must be >= 1")
    if not a.checkpoint and not a.blas_only:
        ap.error("--checkpoint is required (except with --blas-only)")
    positions = [int(p) for p in a.positions.split(",") if p.strip()]
    steps, repeats, n_prefill, n_codes, train_steps, train_warmup = \
        a.decode_steps, a.repeats, a.prefill_tokens, a.image_codes, a.train_steps, 2
    train_shape = (8, 128)
    if a.quick:
        steps, repeats, n_prefill, n_codes, train_steps, train_warmup = 4, 1, 32, 8, 1, 1
        train_shape = (2, 16)

    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.set_num_threads(a.threads)
    blas = blas_info(a.threads)
    log(f"BLAS: {blas['kind']} ({blas['loaded']}), 512x512 matmul {blas['matmul_512_gflops']:.1f} GFLOP/s")
    if a.blas_only:
        print(json.dumps({"blas": blas}))
        return 0
    model = MixtralRef.from_checkpoint(a.checkpoint)
    model.eval()
    cfg = model.cfg
    n_params = sum(p.numel() for p in model.parameters())
    res: Dict[str, Any] = {
        "tool": "scripts/torch_ref/bench_torch.py", "baseline": "PyTorch eager (CPU, float32, sparse expert loop)",
        "torch_version": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
        "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
        "checkpoint": a.checkpoint, "quick": a.quick, "blas": blas,
        "model": {"vocab_size": cfg.vocab_size, "hidden_size": cfg.hidden_size, "intermediate_size": cfg.intermediate_size,
                  "layers": cfg.num_layers, "heads": cfg.num_heads, "kv_heads": cfg.num_kv_heads,
                  "experts": cfg.num_experts, "top_k": cfg.top_k, "shared_expert_size": cfg.shared_expert_size,
                  "tie_word_embeddings": cfg.tie_word_embeddings, "parameters": n_params},
    }

    dec: Dict[str, Any] = {}
    skipped: List[int] = []
    for P in positions:
        if P + steps > cfg.max_positions:
            skipped.append(P)
            continue
        row: Dict[str, Any] = {"position": P}
        for mode, on in (("capture_off", False), ("capture_on", True)):
            med, vals = median_of(lambda: decode_tokens_per_s(model, P, steps, on, a.seed + P), repeats)
            row[mode] = {"tokens_per_s": med, "runs": vals}
        dec[str(P)] = row
        log(f"decode @{P}: off {row['capture_off']['tokens_per_s']:.1f} tok/s, "
            f"on {row['capture_on']['tokens_per_s']:.1f} tok/s")
    res["decode"] = dec
    res["decode_settings"] = {"batch": 1, "greedy": True, "steps": steps, "repeats": repeats,
                              "capture_on": "per step, every layer: indices, weights, probs .tolist()",
                              "skipped_positions": skipped}

    med, vals = median_of(lambda: prefill_tokens_per_s(model, n_prefill, a.seed), max(repeats, 5) if not a.quick else 1)
    res["prefill"] = {"batch": 1, "prompt_tokens": n_prefill, "tokens_per_s": med, "runs": vals}
    log(f"prefill {n_prefill}: {med:.0f} tok/s")

    if cfg.image_code_start is not None and cfg.num_image_codes:
        lo, hi = int(cfg.image_code_start), int(cfg.image_code_start) + int(cfg.num_image_codes)
        src = "config switchboard.tokenizer_layout"
    else:
        lo, hi = 0, cfg.vocab_size
        src = "whole vocabulary (config has no switchboard.tokenizer_layout.imageCodeStart/numImageCodes)"
    prompt_len = 8
    s_plain, v_plain = median_of(lambda: image_seconds(model, lo, hi, n_codes, prompt_len, None, a.seed), repeats)
    s_cfg, v_cfg = median_of(lambda: image_seconds(model, lo, hi, n_codes, prompt_len, 3.0, a.seed), repeats)
    res["image"] = {"codes": n_codes, "prompt_tokens": prompt_len, "code_range": [lo, hi], "code_range_source": src,
                    "sampling": "temperature 1 multinomial over the code range",
                    "no_cfg": {"seconds": s_plain, "batch": 1, "runs": v_plain},
                    "cfg": {"seconds": s_cfg, "batch": 2, "scale": 3.0, "runs": v_cfg}}
    log(f"image {n_codes} codes: {s_plain:.3f} s, cfg {s_cfg:.3f} s")

    res["train"] = train_bench(a.checkpoint, train_steps, train_warmup, train_shape[0], train_shape[1], a.seed)
    log(f"train: {res['train']['tokens_per_s']:.0f} tok/s")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
