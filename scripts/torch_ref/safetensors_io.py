"""Minimal safetensors reader/writer for the PyTorch reference (stdlib + torch; no `safetensors` package).

    load_file(path, device="cpu") -> {name: torch.Tensor}, in header order, dtype as stored (F32 / F16 / BF16)
    load_metadata(path) -> the "__metadata__" dict, or None
    save_file(tensors, path, metadata=None)   tensors keep their dtype (F32 / F16 / BF16), in the given order

load_file and save_file have the signatures of `safetensors.torch`, so the real package can replace them.

Same layout as kernel-lib/checkpoint/safetensors.ts: u64 LE header length, JSON header padded with
spaces to 8 bytes, then the byte buffer, which the tensors must cover exactly.
"""
import json
import struct

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
NAMES = {v: k for k, v in DTYPES.items()}
BITS = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}


def load_file(path, device="cpu"):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    buf = memoryview(data)[8 + n:]
    out, covered = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        if info["dtype"] not in DTYPES:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']!r}")
        dtype, shape, (begin, end) = DTYPES[info["dtype"]], info["shape"], info["data_offsets"]
        t = torch.empty(shape, dtype=dtype)
        if begin != covered or end > len(buf) or end - begin != t.numel() * t.element_size():
            raise ValueError(f"{path}: tensor {name!r} has bad data_offsets {info['data_offsets']}")
        covered = end
        if end > begin:  # copy out of the file buffer (aligned, writable)
            t.view(-1).view(BITS[dtype]).copy_(torch.frombuffer(bytearray(buf[begin:end]), dtype=BITS[dtype]))
        out[name] = t
    if covered != len(buf):
        raise ValueError(f"{path}: {len(buf) - covered} trailing bytes after the last tensor")
    return {name: out[name].to(device) for name in header}


def load_metadata(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n).decode("utf-8")).get("__metadata__")


def save_file(tensors, path, metadata=None):
    header, chunks, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype not in NAMES:
            raise ValueError(f"tensor {name!r} is {t.dtype}; safetensors_io writes float32, float16, bfloat16")
        raw = t.view(-1).view(BITS[t.dtype]).numpy().tobytes()  # the raw bytes (little-endian on x86 / ARM)
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
