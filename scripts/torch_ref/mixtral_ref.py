#!/usr/bin/python3
"""Independent PyTorch (CPU, float32) reference of the Switchboard / Mixtral-style MoE forward.

Written from the published formula (see the Switchboard brief), not from any other implementation:

  h = embed[ids]
  per layer:  a = RMSNorm(h)·w_in;  q,k,v = a·Wqᵀ, a·Wkᵀ, a·Wvᵀ;  RoPE (rotate-half, cos/sin = [c, c]);
              GQA (kv head g serves q heads g·r .. g·r+r-1, r = nh/nkv);  causal softmax(q·kᵀ/√hd)·v;  h += o_proj
              m = RMSNorm(h)·w_post;  probs = softmax(m·gateᵀ);  top-k by a STABLE descending sort
              (equal probabilities: the lower expert index wins);  weights = chosen probs (/ their sum when
              norm_topk_prob);  h += Σ weight·(silu(m·w1ᵀ) ⊙ m·w3ᵀ)·w2ᵀ  (+ shared expert, unweighted)
  logits = RMSNorm(h)·w_norm·lm_headᵀ   (lm_head = embed when tie_word_embeddings)

RMSNorm(x) = x / sqrt(mean(x², last dim) + eps).  RoPE tables: inv_freq_j = theta^(−2j/hd), angle = p·inv_freq_j,
computed in float64 and rounded once to float32.  All compute is float32; F16/BF16 checkpoints are upcast on load.

The MoE is computed "Mixtral-eager" style: the (token, slot) assignments are grouped by expert and only the
experts that received tokens run, each on an index_select-ed batch whose weighted output is index_add-ed back.
It is therefore also the "PyTorch eager sparse" baseline of bench_torch.py.

Library use:
    from mixtral_ref import MixtralRef, KVCache
    model = MixtralRef.from_checkpoint(DIR)
    logits, routing = model(ids)                       # ids: LongTensor [B, T]
    cache = model.new_cache(); model(prompt, cache); model(next_ids, cache)   # positions continue
    routing[i] = {"probs": [B,T,E], "indices": [B,T,k] (int64), "weights": [B,T,k]}  for layer i

CLI:
    /usr/bin/python3 scripts/torch_ref/mixtral_ref.py logits --checkpoint DIR --ids '[[1,2,3],[4,5,6]]' --out OUT.json
    /usr/bin/python3 scripts/torch_ref/mixtral_ref.py logits --checkpoint DIR --ids-file IDS.json [--out OUT.json]
  --ids / --ids-file hold a JSON list of equal-length rows (a flat list is one row).  Without --out the JSON goes
  to stdout.  --no-probs leaves the router probabilities out.

OUTPUT ENCODING (format "switchboard-torch-ref/1"):
  {
    "format": "switchboard-torch-ref/1",
    "checkpoint": "<dir>",
    "ids": [[...], ...],                              # the input, echoed
    "logits":  TENSOR of shape [B, T, V],
    "routing": [                                      # one entry per layer, in layer order
      {"layer": i,
       "indices": [[[e, ...] * T] * B],               # nested int lists [B][T][k], best expert first
       "weights": TENSOR [B, T, k],                   # the mixing weights actually applied, same order
       "probs":   TENSOR [B, T, E]}                   # full softmax router probabilities (absent with --no-probs)
    ]
  }
  TENSOR = {"dtype": "float32", "shape": [...], "encoding": "base64-f32le",
            "data": base64 of the row-major (C-order) little-endian IEEE-754 float32 bytes}
  (decode in Node: new Float32Array(Uint8Array.from(Buffer.from(data, 'base64')).buffer); length = prod(shape)).
"""
from __future__ import annotations

import argparse
import base64
import json
import math
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from safetensors_io import load_file  # noqa: E402  (shared reader: safetensors file -> {name: tensor})

FORMAT = "switchboard-torch-ref/1"

Routing = Dict[str, torch.Tensor]


# --------------------------------------------------------------------------------------------- config


class RefConfig:
    """The subset of a Switchboard/HF-Mixtral config.json this reference needs."""

    def __init__(self, raw: Dict[str, Any]):
        def need(key: str) -> Any:
            if key not in raw:
                raise ValueError(f"config.json: missing key '{key}'")
            return raw[key]

        sb = raw.get("switchboard") or {}
        self.raw = raw
        self.vocab_size = int(need("vocab_size"))
        self.hidden_size = int(need("hidden_size"))
        self.intermediate_size = int(need("intermediate_size"))
        self.num_layers = int(need("num_hidden_layers"))
        self.num_heads = int(need("num_attention_heads"))
        self.num_kv_heads = int(raw.get("num_key_value_heads", self.num_heads))
        self.num_experts = int(need("num_local_experts"))
        self.top_k = int(need("num_experts_per_tok"))
        self.rope_theta = float(raw.get("rope_theta", 10000.0))
        self.rms_norm_eps = float(raw.get("rms_norm_eps", 1e-5))
        self.tie_word_embeddings = bool(raw.get("tie_word_embeddings", False))
        self.max_positions = int(raw.get("max_position_embeddings", 1024))
        self.norm_topk_prob = bool(sb.get("norm_topk_prob", raw.get("norm_topk_prob", True)))
        self.shared_expert_size = int(sb.get("shared_expert_size", raw.get("shared_expert_size", 0)) or 0)
        self.router_aux_loss_coef = float(raw.get("router_aux_loss_coef", sb.get("router_aux_loss_coef", 0.01)))
        layout = sb.get("tokenizer_layout") or {}
        self.image_code_start: Optional[int] = layout.get("imageCodeStart")
        self.num_image_codes: Optional[int] = layout.get("numImageCodes")
        if self.hidden_size % self.num_heads:
            raise ValueError("config.json: num_attention_heads must divide hidden_size")
        self.head_dim = self.hidden_size // self.num_heads
        if self.head_dim % 2:
            raise ValueError("config.json: head_dim must be even for RoPE")
        if self.num_heads % self.num_kv_heads:
            raise ValueError("config.json: num_key_value_heads must divide num_attention_heads")
        if not 1 <= self.top_k <= self.num_experts:
            raise ValueError("config.json: num_experts_per_tok must be in 1..num_local_experts")

    def tensor_shapes(self) -> Dict[str, Tuple[int, ...]]:
        """Checkpoint tensor names -> shapes ([out, in] for linears)."""
        H, I, hd = self.hidden_size, self.intermediate_size, self.head_dim
        s: Dict[str, Tuple[int, ...]] = {"model.embed_tokens.weight": (self.vocab_size, H)}
        for i in range(self.num_layers):
            p = f"model.layers.{i}"
            s[f"{p}.input_layernorm.weight"] = (H,)
            s[f"{p}.self_attn.q_proj.weight"] = (self.num_heads * hd, H)
            s[f"{p}.self_attn.k_proj.weight"] = (self.num_kv_heads * hd, H)
            s[f"{p}.self_attn.v_proj.weight"] = (self.num_kv_heads * hd, H)
            s[f"{p}.self_attn.o_proj.weight"] = (H, self.num_heads * hd)
            s[f"{p}.post_attention_layernorm.weight"] = (H,)
            s[f"{p}.block_sparse_moe.gate.weight"] = (self.num_experts, H)
            for e in range(self.num_experts):
                q = f"{p}.block_sparse_moe.experts.{e}"
                s[f"{q}.w1.weight"] = (I, H)
                s[f"{q}.w2.weight"] = (H, I)
                s[f"{q}.w3.weight"] = (I, H)
            if self.shared_expert_size > 0:
                S = self.shared_expert_size
                q = f"{p}.block_sparse_moe.shared_expert"
                s[f"{q}.w1.weight"] = (S, H)
                s[f"{q}.w2.weight"] = (H, S)
                s[f"{q}.w3.weight"] = (S, H)
        s["model.norm.weight"] = (H,)
        if not self.tie_word_embeddings:
            s["lm_head.weight"] = (self.vocab_size, H)
        return s


def load_checkpoint(ckpt_dir: str) -> Tuple[RefConfig, Dict[str, torch.Tensor]]:
    with open(os.path.join(ckpt_dir, "config.json"), "r", encoding="utf-8") as f:
        cfg = RefConfig(json.load(f))
    raw = load_file(os.path.join(ckpt_dir, "model.safetensors"))
    expected = cfg.tensor_shapes()
    problems = []
    for name, shape in expected.items():
        if name not in raw:
            problems.append(f"missing tensor {name} {list(shape)}")
        elif tuple(raw[name].shape) != shape:
            problems.append(f"tensor {name} has shape {list(raw[name].shape)}, expected {list(shape)}")
    extra = sorted(set(raw) - set(expected))
    if cfg.tie_word_embeddings and "lm_head.weight" in extra:
        extra.remove("lm_head.weight")  # tolerated (and ignored) when tied
    problems += [f"unexpected tensor {n}" for n in extra]
    if problems:
        raise ValueError(f"{ckpt_dir}: checkpoint does not match config.json:\n  " + "\n  ".join(problems[:20]))
    return cfg, {n: raw[n].to(torch.float32).contiguous() for n in expected}


# --------------------------------------------------------------------------------------------- modules


class RMSNorm(nn.Module):
    def __init__(self, weight: torch.Tensor, eps: float):
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(theta: float, head_dim: int, n_pos: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [n_pos, head_dim] (float32; computed in float64): angle(p, j) = p·theta^(−2j/hd), duplicated [c, c]."""
    j = torch.arange(head_dim // 2, dtype=torch.float64)
    inv_freq = theta ** (-2.0 * j / head_dim)
    ang = torch.arange(n_pos, dtype=torch.float64)[:, None] * inv_freq[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().to(torch.float32), ang.sin().to(torch.float32)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos + rotate_half(x) * sin


class KVCache:
    """Preallocated per-layer K/V buffers [B, nkv, max_len, hd]; `length` = positions already cached."""

    def __init__(self, num_layers: int, max_len: int):
        self.max_len = max_len
        self.k: List[Optional[torch.Tensor]] = [None] * num_layers
        self.v: List[Optional[torch.Tensor]] = [None] * num_layers
        self.length = 0

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        B, nkv, T, hd = k.shape
        end = self.length + T
        if end > self.max_len:
            raise ValueError(f"KVCache: {end} positions exceed max_len {self.max_len}")
        kb, vb = self.k[layer], self.v[layer]
        if kb is None or vb is None:
            kb = k.new_zeros((B, nkv, self.max_len, hd))
            vb = v.new_zeros((B, nkv, self.max_len, hd))
            self.k[layer], self.v[layer] = kb, vb
        kb[:, :, self.length:end] = k
        vb[:, :, self.length:end] = v
        return kb[:, :, :end], vb[:, :, :end]


class Attention(nn.Module):
    def __init__(self, cfg: RefConfig, wq: torch.Tensor, wk: torch.Tensor, wv: torch.Tensor, wo: torch.Tensor):
        super().__init__()
        self.nh, self.nkv, self.hd = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.q_proj = nn.Parameter(wq)
        self.k_proj = nn.Parameter(wk)
        self.v_proj = nn.Parameter(wv)
        self.o_proj = nn.Parameter(wo)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: Optional[torch.Tensor],
                cache: Optional[KVCache], layer: int) -> torch.Tensor:
        B, T, _ = x.shape
        nh, nkv, hd = self.nh, self.nkv, self.hd
        q = F.linear(x, self.q_proj).view(B, T, nh, hd).transpose(1, 2)    # [B, nh, T, hd]
        k = F.linear(x, self.k_proj).view(B, T, nkv, hd).transpose(1, 2)   # [B, nkv, T, hd]
        v = F.linear(x, self.v_proj).view(B, T, nkv, hd).transpose(1, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.update(layer, k, v)                                # [B, nkv, S, hd]
        g = nh // nkv
        qg = q.reshape(B, nkv, g, T, hd)                                    # q head h -> kv head h // g
        scores = torch.matmul(qg, k.unsqueeze(2).transpose(-1, -2)) * (1.0 / math.sqrt(hd))  # [B,nkv,g,T,S]
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf"))
        attn = torch.softmax(scores, dim=-1)
        out = torch.matmul(attn, v.unsqueeze(2))                            # [B, nkv, g, T, hd]
        out = out.reshape(B, nh, T, hd).transpose(1, 2).reshape(B, T, nh * hd)
        return F.linear(out, self.o_proj)


class Expert(nn.Module):
    """SwiGLU: (silu(x·w1ᵀ) ⊙ x·w3ᵀ)·w2ᵀ."""

    def __init__(self, w1: torch.Tensor, w2: torch.Tensor, w3: torch.Tensor):
        super().__init__()
        self.w1 = nn.Parameter(w1)
        self.w2 = nn.Parameter(w2)
        self.w3 = nn.Parameter(w3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.silu(F.linear(x, self.w1)) * F.linear(x, self.w3), self.w2)


def route(router_logits: torch.Tensor, k: int, norm_topk_prob: bool
          ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """probs [N,E] = softmax; indices/weights [N,k] via a stable descending sort (ties: lower index first)."""
    probs = torch.softmax(router_logits.float(), dim=-1)
    sorted_p, sorted_i = torch.sort(probs, dim=-1, descending=True, stable=True)
    weights, indices = sorted_p[:, :k], sorted_i[:, :k]
    if norm_topk_prob:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    return probs, indices, weights


class SparseMoE(nn.Module):
    def __init__(self, cfg: RefConfig, t: Dict[str, torch.Tensor], prefix: str):
        super().__init__()
        self.num_experts, self.top_k, self.norm_topk_prob = cfg.num_experts, cfg.top_k, cfg.norm_topk_prob
        self.gate = nn.Parameter(t[f"{prefix}.gate.weight"])
        self.experts = nn.ModuleList(
            Expert(t[f"{prefix}.experts.{e}.w1.weight"], t[f"{prefix}.experts.{e}.w2.weight"],
                   t[f"{prefix}.experts.{e}.w3.weight"]) for e in range(cfg.num_experts))
        self.shared_expert: Optional[Expert] = None
        if cfg.shared_expert_size > 0:
            q = f"{prefix}.shared_expert"
            self.shared_expert = Expert(t[f"{q}.w1.weight"], t[f"{q}.w2.weight"], t[f"{q}.w3.weight"])

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Routing]:
        B, T, H = x.shape
        x2 = x.reshape(B * T, H)
        probs, indices, weights = route(F.linear(x2, self.gate), self.top_k, self.norm_topk_prob)
        out = self.sparse_experts(x2, indices, weights)
        if self.shared_expert is not None:
            out = out + self.shared_expert(x2)
        k, E = self.top_k, self.num_experts
        return out.view(B, T, H), {"probs": probs.view(B, T, E), "indices": indices.view(B, T, k),
                                   "weights": weights.view(B, T, k)}

    def sparse_experts(self, x2: torch.Tensor, indices: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Mixtral-eager: group (token, slot) pairs by expert; run each expert that has tokens; index_add back."""
        k = indices.shape[1]
        flat_e = indices.reshape(-1)
        _, order = torch.sort(flat_e, stable=True)       # assignment ids grouped by expert, token order kept
        tokens = torch.div(order, k, rounding_mode="floor")
        flat_w = weights.reshape(-1).index_select(0, order)
        counts = torch.bincount(flat_e, minlength=self.num_experts).tolist()
        out = torch.zeros_like(x2)
        start = 0
        for e, c in enumerate(counts):
            if c == 0:
                continue
            tok = tokens[start:start + c]
            y = self.experts[e](x2.index_select(0, tok)) * flat_w[start:start + c, None]
            out.index_add_(0, tok, y)
            start += c
        return out

    def dense_experts(self, x2: torch.Tensor, indices: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Check path: every expert on every token, weighted by a zero-filled [N, E] gate matrix."""
        G = torch.zeros(x2.shape[0], self.num_experts, dtype=x2.dtype).scatter(1, indices, weights)
        return sum(G[:, e:e + 1] * self.experts[e](x2) for e in range(self.num_experts))  # type: ignore[return-value]


class DecoderLayer(nn.Module):
    def __init__(self, cfg: RefConfig, t: Dict[str, torch.Tensor], i: int):
        super().__init__()
        p = f"model.layers.{i}"
        self.layer = i
        self.input_norm = RMSNorm(t[f"{p}.input_layernorm.weight"], cfg.rms_norm_eps)
        self.attn = Attention(cfg, t[f"{p}.self_attn.q_proj.weight"], t[f"{p}.self_attn.k_proj.weight"],
                              t[f"{p}.self_attn.v_proj.weight"], t[f"{p}.self_attn.o_proj.weight"])
        self.post_norm = RMSNorm(t[f"{p}.post_attention_layernorm.weight"], cfg.rms_norm_eps)
        self.moe = SparseMoE(cfg, t, f"{p}.block_sparse_moe")

    def forward(self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: Optional[torch.Tensor],
                cache: Optional[KVCache]) -> Tuple[torch.Tensor, Routing]:
        h = h + self.attn(self.input_norm(h), cos, sin, mask, cache, self.layer)
        moe, routing = self.moe(self.post_norm(h))
        return h + moe, routing


class MixtralRef(nn.Module):
    def __init__(self, cfg: RefConfig, tensors: Dict[str, torch.Tensor]):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Parameter(tensors["model.embed_tokens.weight"])
        self.layers = nn.ModuleList(DecoderLayer(cfg, tensors, i) for i in range(cfg.num_layers))
        self.norm = RMSNorm(tensors["model.norm.weight"], cfg.rms_norm_eps)
        self.lm_head: Optional[nn.Parameter] = None
        if not cfg.tie_word_embeddings:
            self.lm_head = nn.Parameter(tensors["lm_head.weight"])
        self._cos, self._sin = rope_tables(cfg.rope_theta, cfg.head_dim, cfg.max_positions)

    @classmethod
    def from_checkpoint(cls, ckpt_dir: str) -> "MixtralRef":
        cfg, tensors = load_checkpoint(ckpt_dir)
        return cls(cfg, tensors)

    def new_cache(self, max_len: Optional[int] = None) -> KVCache:
        return KVCache(self.cfg.num_layers, max_len or self.cfg.max_positions)

    def rope(self, start: int, n: int) -> Tuple[torch.Tensor, torch.Tensor]:
        if start + n > self._cos.shape[0]:  # past max_position_embeddings: extend rather than fail
            self._cos, self._sin = rope_tables(self.cfg.rope_theta, self.cfg.head_dim, 2 * (start + n))
        return self._cos[start:start + n], self._sin[start:start + n]

    def forward(self, ids: torch.Tensor, kv_cache: Optional[KVCache] = None
                ) -> Tuple[torch.Tensor, List[Routing]]:
        """ids [B, T] -> logits [B, T, V] (float32), routing per layer. With kv_cache, positions start at
        kv_cache.length and the cache is advanced by T."""
        if ids.dim() == 1:
            ids = ids[None, :]
        B, T = ids.shape
        past = kv_cache.length if kv_cache is not None else 0
        cos, sin = self.rope(past, T)
        mask = None
        if T > 1:  # key j (absolute) visible to query i (absolute past+i) iff j <= past+i
            qpos = torch.arange(past, past + T)[:, None]
            kpos = torch.arange(past + T)[None, :]
            mask = kpos > qpos
        h = F.embedding(ids, self.embed)
        routing: List[Routing] = []
        for layer in self.layers:
            h, r = layer(h, cos, sin, mask, kv_cache)
            routing.append(r)
        if kv_cache is not None:
            kv_cache.length = past + T
        head = self.embed if self.lm_head is None else self.lm_head
        return F.linear(self.norm(h), head), routing


def load_balancing_loss(routing: List[Routing], num_experts: int) -> torch.Tensor:
    """Switch-style aux loss over all layers' (token, slot) assignments together, as Mixtral pools layers:
    aux = E · Σ_e f_e·P_e, f_e = (assignments to expert e) / N summed over the k slots (so aux = k when routing
    is balanced, as in Switchboard's trainer), P_e = mean router probability of e."""
    probs = torch.cat([r["probs"].reshape(-1, num_experts) for r in routing], dim=0)
    idx = torch.cat([r["indices"].reshape(-1, r["indices"].shape[-1]) for r in routing], dim=0)
    f = F.one_hot(idx, num_experts).float().mean(dim=0).sum(dim=0)
    P = probs.mean(dim=0)
    return num_experts * (f * P).sum()


# --------------------------------------------------------------------------------------------- encoding


def encode_tensor(t: torch.Tensor) -> Dict[str, Any]:
    a = t.detach().to(torch.float32).contiguous().cpu()
    raw = a.numpy().astype("<f4").tobytes() if _has_numpy() else _f32le_bytes(a)
    return {"dtype": "float32", "shape": list(a.shape), "encoding": "base64-f32le",
            "data": base64.b64encode(raw).decode("ascii")}


def decode_tensor(obj: Dict[str, Any]) -> torch.Tensor:
    raw = bytearray(base64.b64decode(obj["data"]))
    t = torch.frombuffer(raw, dtype=torch.float32) if raw else torch.zeros(0)
    if sys.byteorder != "little":
        t = t.byteswap()  # pragma: no cover
    return t.reshape(obj["shape"]).clone()


def _has_numpy() -> bool:
    try:
        import numpy  # noqa: F401
        return True
    except ImportError:
        return False


def _f32le_bytes(a: torch.Tensor) -> bytes:
    import array
    arr = array.array("f", a.reshape(-1).tolist())
    if sys.byteorder != "little":
        arr.byteswap()  # pragma: no cover
    return arr.tobytes()


def logits_report(model: MixtralRef, ids: List[List[int]], ckpt: str, with_probs: bool = True) -> Dict[str, Any]:
    t = torch.tensor(ids, dtype=torch.long)
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= model.cfg.vocab_size):
        raise ValueError(f"ids must lie in [0, {model.cfg.vocab_size})")
    with torch.inference_mode():
        logits, routing = model(t)
    layers = []
    for i, r in enumerate(routing):
        entry: Dict[str, Any] = {"layer": i, "indices": r["indices"].tolist(), "weights": encode_tensor(r["weights"])}
        if with_probs:
            entry["probs"] = encode_tensor(r["probs"])
        layers.append(entry)
    return {"format": FORMAT, "checkpoint": ckpt, "ids": ids, "logits": encode_tensor(logits), "routing": layers}


def parse_ids(text: str) -> List[List[int]]:
    v = json.loads(text)
    if isinstance(v, list) and v and all(isinstance(x, int) for x in v):
        v = [v]
    if (not isinstance(v, list) or not v or not all(isinstance(r, list) and r for r in v)
            or not all(isinstance(x, int) and not isinstance(x, bool) for r in v for x in r)):
        raise ValueError("ids must be a non-empty JSON list of non-empty lists of integers")
    if len({len(r) for r in v}) != 1:
        raise ValueError("all rows of ids must have the same length")
    return v


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="PyTorch reference of the Switchboard Mixtral forward")
    sub = ap.add_subparsers(dest="cmd", required=True)
    lg = sub.add_parser("logits", help="logits + routing for a batch of ids (JSON; see module docstring)")
    lg.add_argument("--checkpoint", required=True)
    src = lg.add_mutually_exclusive_group(required=True)
    src.add_argument("--ids", help="JSON, e.g. '[[1,2,3],[4,5,6]]'")
    src.add_argument("--ids-file", help="file holding the same JSON")
    lg.add_argument("--out", help="output JSON path (default: stdout)")
    lg.add_argument("--no-probs", action="store_true", help="omit the full router probabilities")
    lg.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.ids_file:
        with open(a.ids_file, "r", encoding="utf-8") as f:
            ids = parse_ids(f.read())
    else:
        ids = parse_ids(a.ids)
    model = MixtralRef.from_checkpoint(a.checkpoint)
    text = json.dumps(logits_report(model, ids, a.checkpoint, with_probs=not a.no_probs))
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, OSError) as err:  # bad input / checkpoint: one line, no traceback
        print(f"mixtral_ref.py: error: {err}", file=sys.stderr)
        sys.exit(2)
