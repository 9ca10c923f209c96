"""Reads Switchboard checkpoints with scripts/torch_ref/safetensors_io.py and writes files back.

usage: torch_check.py F32_FILE F16_FILE OUT_DIR
Prints JSON: per tensor of each input, its dtype, shape, a sha256 of its float32 values and their
float64 sum; whether torch's own float32 -> float16 rounding gives the F16 file's bits; and the
sha256 of every tensor it wrote to OUT_DIR/resaved_f32.safetensors (F32, reversed order) and
OUT_DIR/mixed.safetensors (BF16 / F16 / F32 in turn, with metadata).
"""
import hashlib
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "torch_ref"))
from safetensors_io import load_file, load_metadata, save_file  # noqa: E402


def describe(tensors):
    return [
        {
            "name": name,
            "dtype": str(t.dtype).replace("torch.", ""),
            "shape": list(t.shape),
            "sha256": hashlib.sha256(t.float().contiguous().view(-1).numpy().tobytes()).hexdigest(),
            "sum": float(t.double().sum()),
        }
        for name, t in tensors.items()
    ]


f32, meta32 = load_file(sys.argv[1]), load_metadata(sys.argv[1])
f16, meta16 = load_file(sys.argv[2]), load_metadata(sys.argv[2])
out = Path(sys.argv[3])
half_ok = all(torch.equal(f32[n].half().view(torch.int16), f16[n].view(torch.int16)) for n in f32)
save_file(dict(reversed(list(f32.items()))), out / "resaved_f32.safetensors", {"format": "pt"})
casts = [torch.bfloat16, torch.float16, torch.float32]
mixed = {n: t.to(casts[i % 3]) for i, (n, t) in enumerate(f32.items())}
save_file(mixed, out / "mixed.safetensors", {"format": "pt", "writer": "torch_check"})
print(json.dumps({
    "torch": torch.__version__,
    "f32": describe(f32), "f16": describe(f16), "metadata": [meta32, meta16],
    "half_matches_torch": half_ok, "mixed": describe(mixed),
}))
