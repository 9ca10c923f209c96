#!/usr/bin/python3
"""Self-checks of the PyTorch reference (run by tests/torch_ref/torch-ref.test.ts; a few seconds on CPU).

    /usr/bin/python3 scripts/torch_ref/selfcheck.py [--only NAME,...]

Prints one JSON object {"ok": bool, "torch": version, "checks": [{"name", "ok", "max_abs_err"?, "tol"?, "detail"}]}
and exits 1 when a check fails.  Checks:
  kv_cache        KV-cached decoding (prefill + single steps, and uneven chunks) == full forward (<= 1e-5)
  sparse_dense    Mixtral-eager expert loop == all experts weighted by a zero-filled [N, E] gate matrix (<= 1e-5)
  tie_break       equal router probabilities: the lower expert index wins (crafted logits and an all-zero gate)
  naive           the vectorised model == a float64, per-token, per-head loop written independently (<= 1e-4),
                  on GQA / shared-expert / tied / norm_topk_prob=false / F16-checkpoint variants
  f16_load        an F16 checkpoint loads as the float32 upcast of its stored halves
  aux_loss        load_balancing_loss on a hand-computed example
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import traceback
from typing import Any, Callable, Dict, List

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_random_checkpoint import make_config, random_tensors, write_checkpoint  # noqa: E402
from mixtral_ref import MixtralRef, RefConfig, load_balancing_loss, route  # noqa: E402

Result = Dict[str, Any]


def build(tmp: str, name: str, std: float = 0.2, seed: int = 0, dtype: str = "f32", **cfg_kw: Any) -> MixtralRef:
    cfg = make_config("tiny", **cfg_kw)
    d = os.path.join(tmp, name)
    write_checkpoint(d, cfg, random_tensors(cfg, seed=seed, std=std), dtype)
    return MixtralRef.from_checkpoint(d)


def ids_for(model: MixtralRef, B: int, T: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, model.cfg.vocab_size, (B, T), generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------------------------------ checks


def check_kv_cache(tmp: str) -> Result:
    model = build(tmp, "kv")
    ids = ids_for(model, 2, 12)
    with torch.inference_mode():
        full, full_r = model(ids)
        errs, idx_same = [], True
        for chunks in ([5] + [1] * 7, [5, 4, 3], [1] * 12):
            cache, pos, parts = model.new_cache(), 0, []
            for c in chunks:
                lg, r = model(ids[:, pos:pos + c], cache)
                parts.append(lg)
                idx_same &= all(torch.equal(r[i]["indices"], full_r[i]["indices"][:, pos:pos + c])
                                for i in range(len(r)))
                pos += c
            assert cache.length == 12
            errs.append(float((torch.cat(parts, dim=1) - full).abs().max()))
    err, tol = max(errs), 1e-5
    return {"ok": err <= tol and idx_same, "max_abs_err": err, "tol": tol,
            "detail": f"chunkings 5+1x7, 5+4+3, 1x12; routing indices identical: {idx_same}"}


def check_sparse_dense(tmp: str) -> Result:
    errs = []
    for name, kw in (("sd_a", {}), ("sd_b", dict(shared_expert_size=24, norm_topk_prob=False))):
        model = build(tmp, name, **kw)
        g = torch.Generator().manual_seed(3)
        with torch.inference_mode():
            for layer in model.layers:
                moe = layer.moe
                x = torch.randn(64, model.cfg.hidden_size, generator=g)
                _, idx, w = route(torch.nn.functional.linear(x, moe.gate), moe.top_k, moe.norm_topk_prob)
                errs.append(float((moe.sparse_experts(x, idx, w) - moe.dense_experts(x, idx, w)).abs().max()))
                # and through the module forward (adds the shared expert when present)
                out, r = moe(x[None])
                dense = moe.dense_experts(x, r["indices"][0], r["weights"][0])
                if moe.shared_expert is not None:
                    dense = dense + moe.shared_expert(x)
                errs.append(float((out[0] - dense).abs().max()))
    err, tol = max(errs), 1e-5
    return {"ok": err <= tol, "max_abs_err": err, "tol": tol, "detail": "64 tokens x all layers, 2 configs"}


def check_tie_break(tmp: str) -> Result:
    problems: List[str] = []
    cases = [  # logits row, k, expected indices
        ([1.0, 3.0, 3.0, 2.0, 3.0], 2, [1, 2]),
        ([1.0, 3.0, 3.0, 2.0, 3.0], 4, [1, 2, 4, 3]),
        ([0.0, 0.0, 0.0, 0.0], 3, [0, 1, 2]),
        ([2.0, 5.0, 2.0, 5.0, 2.0, 2.0], 4, [1, 3, 0, 2]),
        ([-1.0] * 16, 4, [0, 1, 2, 3]),
    ]
    for row, k, want in cases:
        x = torch.tensor([row] * 3)  # several identical rows
        _, idx, w = route(x, k, True)
        for r in range(3):
            if idx[r].tolist() != want:
                problems.append(f"logits {row} k={k}: got {idx[r].tolist()}, want {want}")
        if abs(float(w.sum(-1).max()) - 1.0) > 1e-6:
            problems.append("normalised weights do not sum to 1")
    # end to end: an all-zero gate makes every router prob exactly 1/E
    model = build(tmp, "tie")
    for layer in model.layers:
        layer.moe.gate.data.zero_()
    with torch.inference_mode():
        _, routing = model(ids_for(model, 2, 9))
    k = model.cfg.top_k
    for i, r in enumerate(routing):
        if not torch.equal(r["indices"], torch.arange(k).expand_as(r["indices"])):
            problems.append(f"zero gate, layer {i}: indices {r['indices'][0, 0].tolist()} != {list(range(k))}")
        if float((r["weights"] - 1.0 / k).abs().max()) > 1e-7:
            problems.append(f"zero gate, layer {i}: weights not 1/k")
    return {"ok": not problems, "detail": "; ".join(problems) or f"{len(cases)} crafted rows + all-zero gate"}


def naive_forward(cfg: RefConfig, t: Dict[str, torch.Tensor], ids: List[int]) -> Any:
    """float64, one token / one head at a time, straight from the formula (independent of the module code)."""
    W = {n: v.to(torch.float64) for n, v in t.items()}
    H, hd, nh, nkv, E, k = cfg.hidden_size, cfg.head_dim, cfg.num_heads, cfg.num_kv_heads, cfg.num_experts, cfg.top_k
    half, T = hd // 2, len(ids)

    def rms(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return x / math.sqrt(float((x * x).mean()) + cfg.rms_norm_eps) * w

    def rope(x: torch.Tensor, p: int) -> torch.Tensor:
        y = x.clone()
        for j in range(half):
            a = p * cfg.rope_theta ** (-2.0 * j / hd)
            c, s = math.cos(a), math.sin(a)
            y[j] = x[j] * c - x[j + half] * s
            y[j + half] = x[j + half] * c + x[j] * s
        return y

    def swiglu(x: torch.Tensor, p: str) -> torch.Tensor:
        a = W[f"{p}.w1.weight"] @ x
        return W[f"{p}.w2.weight"] @ (a / (1.0 + torch.exp(-a)) * (W[f"{p}.w3.weight"] @ x))

    h = [W["model.embed_tokens.weight"][i].clone() for i in ids]
    chosen = []
    for l in range(cfg.num_layers):
        p = f"model.layers.{l}"
        a = [rms(x, W[f"{p}.input_layernorm.weight"]) for x in h]
        q = [W[f"{p}.self_attn.q_proj.weight"] @ x for x in a]
        kk = [W[f"{p}.self_attn.k_proj.weight"] @ x for x in a]
        vv = [W[f"{p}.self_attn.v_proj.weight"] @ x for x in a]
        for i in range(T):
            heads = []
            for hh in range(nh):
                g = hh // (nh // nkv)
                qi = rope(q[i][hh * hd:(hh + 1) * hd], i)
                sc = [float(qi @ rope(kk[j][g * hd:(g + 1) * hd], j)) / math.sqrt(hd) for j in range(i + 1)]
                mx = max(sc)
                ex = [math.exp(s - mx) for s in sc]
                z = sum(ex)
                heads.append(sum((ex[j] / z) * vv[j][g * hd:(g + 1) * hd] for j in range(i + 1)))
            h[i] = h[i] + W[f"{p}.self_attn.o_proj.weight"] @ torch.cat(heads)
        layer_choice = []
        for i in range(T):
            m = rms(h[i], W[f"{p}.post_attention_layernorm.weight"])
            lg = (W[f"{p}.block_sparse_moe.gate.weight"] @ m).tolist()
            mx = max(lg)
            pr = [math.exp(v - mx) for v in lg]
            z = sum(pr)
            pr = [v / z for v in pr]
            top = sorted(range(E), key=lambda e: (-pr[e], e))[:k]
            ws = [pr[e] for e in top]
            if cfg.norm_topk_prob:
                ws = [w / sum(ws) for w in ws]
            out = sum(w * swiglu(m, f"{p}.block_sparse_moe.experts.{e}") for w, e in zip(ws, top))
            if cfg.shared_expert_size:
                out = out + swiglu(m, f"{p}.block_sparse_moe.shared_expert")
            h[i] = h[i] + out
            layer_choice.append(top)
        chosen.append(layer_choice)
    head = W["model.embed_tokens.weight"] if cfg.tie_word_embeddings else W["lm_head.weight"]
    logits = torch.stack([head @ rms(x, W["model.norm.weight"]) for x in h])
    return logits, chosen


def check_naive(tmp: str) -> Result:
    variants = [("gqa", {}, "f32"), ("shared_tied_nonorm", dict(shared_expert_size=16, tie=True,
                                                                norm_topk_prob=False), "f32"),
                ("f16", {}, "f16")]
    errs, notes, ok = [], [], True
    for name, kw, dt in variants:
        model = build(tmp, "nv_" + name, dtype=dt, seed=5, **kw)
        tensors = {n: p.detach() for n, p in _named_checkpoint_tensors(model).items()}
        ids = ids_for(model, 1, 7, seed=11)[0].tolist()
        ref, chosen = naive_forward(model.cfg, tensors, ids)
        with torch.inference_mode():
            got, routing = model(torch.tensor([ids]))
        e = float((got[0].double() - ref).abs().max())
        same = all(routing[l]["indices"][0].tolist() == chosen[l] for l in range(model.cfg.num_layers))
        errs.append(e)
        ok &= same
        notes.append(f"{name}: {e:.2e}{'' if same else ' ROUTING DIFFERS'}")
    err, tol = max(errs), 1e-4
    return {"ok": ok and err <= tol, "max_abs_err": err, "tol": tol, "detail": ", ".join(notes)}


def _named_checkpoint_tensors(model: MixtralRef) -> Dict[str, torch.Tensor]:
    """Map the module's parameters back to checkpoint names (what load_checkpoint gave it)."""
    out = {"model.embed_tokens.weight": model.embed, "model.norm.weight": model.norm.weight}
    if model.lm_head is not None:
        out["lm_head.weight"] = model.lm_head
    for i, L in enumerate(model.layers):
        p = f"model.layers.{i}"
        out[f"{p}.input_layernorm.weight"] = L.input_norm.weight
        out[f"{p}.post_attention_layernorm.weight"] = L.post_norm.weight
        for n in ("q", "k", "v", "o"):
            out[f"{p}.self_attn.{n}_proj.weight"] = getattr(L.attn, f"{n}_proj")
        out[f"{p}.block_sparse_moe.gate.weight"] = L.moe.gate
        for e, ex in enumerate(L.moe.experts):
            for w in ("w1", "w2", "w3"):
                out[f"{p}.block_sparse_moe.experts.{e}.{w}.weight"] = getattr(ex, w)
        if L.moe.shared_expert is not None:
            for w in ("w1", "w2", "w3"):
                out[f"{p}.block_sparse_moe.shared_expert.{w}.weight"] = getattr(L.moe.shared_expert, w)
    return out


def check_f16_load(tmp: str) -> Result:
    cfg = make_config("tiny")
    src = random_tensors(cfg, seed=7, std=0.2)
    d = os.path.join(tmp, "f16load")
    write_checkpoint(d, cfg, src, "f16")
    model = MixtralRef.from_checkpoint(d)
    got = _named_checkpoint_tensors(model)
    bad = [n for n, t in src.items() if not torch.equal(got[n].detach(), t.to(torch.float16).to(torch.float32))]
    dtypes = {str(p.dtype) for p in model.parameters()}
    return {"ok": not bad and dtypes == {"torch.float32"},
            "detail": f"{len(src)} tensors, param dtypes {sorted(dtypes)}" + (f", mismatched: {bad[:3]}" if bad else "")}


def check_aux_loss(tmp: str) -> Result:
    # one layer, 2 tokens, E=4, k=2.  assignments: tok0 -> {0,1}, tok1 -> {0,2}  => f = [2,1,1,0]/2 (per token, summed over slots)
    probs = torch.tensor([[[0.4, 0.3, 0.2, 0.1], [0.5, 0.1, 0.3, 0.1]]])
    idx = torch.tensor([[[0, 1], [0, 2]]])
    r = [{"probs": probs, "indices": idx, "weights": torch.zeros(1, 2, 2)}]
    P = [0.45, 0.2, 0.25, 0.1]
    f = [1.0, 0.5, 0.5, 0.0]
    want = 4 * sum(a * b for a, b in zip(f, P))
    got = float(load_balancing_loss(r, 4))
    # pooled over layers: two identical layers give the same value
    got2 = float(load_balancing_loss(r + r, 4))
    err = max(abs(got - want), abs(got2 - want))
    return {"ok": err < 1e-6, "max_abs_err": err, "tol": 1e-6, "detail": f"aux={got:.6f} want={want:.6f}"}


CHECKS: Dict[str, Callable[[str], Result]] = {
    "kv_cache": check_kv_cache, "sparse_dense": check_sparse_dense, "tie_break": check_tie_break,
    "naive": check_naive, "f16_load": check_f16_load, "aux_loss": check_aux_loss,
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="comma-separated check names")
    a = ap.parse_args()
    torch.set_num_threads(1)
    names = a.only.split(",") if a.only else list(CHECKS)
    results = []
    with tempfile.TemporaryDirectory(prefix="torch_ref_selfcheck_") as tmp:
        for n in names:
            try:
                r = CHECKS[n](tmp)
            except Exception:  # a crash is a failed check, reported with its traceback
                r = {"ok": False, "detail": traceback.format_exc()}
            results.append({"name": n, **r})
    ok = all(r["ok"] for r in results)
    print(json.dumps({"ok": ok, "torch": torch.__version__, "checks": results}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
