"""Independent check of a ConvLoRA PEFT file: reads adapter_model.safetensors (header parsed by hand,
values with numpy), applies PyTorch's Conv2d to the code grid with causal padding (1 row on top, 1
column on the left, nothing bottom/right), then lora_B, scaled by lora_alpha/sqrt(r) (use_rslora).

usage: peft_conv_check.py DIR MODULE GRID_JSON   (stdin: the grid input I as JSON [in][H][W])
prints the delta as JSON [H][W][out]
"""
import json
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        assert info['dtype'] == 'F32', info['dtype']
        a, b = info['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(body[a:b], dtype='<f4').reshape(info['shape']).copy())
    return out


def main():
    d, module = sys.argv[1], sys.argv[2]
    cfg = json.load(open(f'{d}/adapter_config.json'))
    w = read_safetensors(f'{d}/adapter_model.safetensors')
    conv_w = w[f'{module}.image_lora_A.weight']  # [r, in, 2, 2]
    b = w[f'{module}.image_lora_B.weight']  # [out, r]
    grid = torch.tensor(json.load(sys.stdin), dtype=torch.float32)  # [in, H, W]
    conv = torch.nn.Conv2d(conv_w.shape[1], conv_w.shape[0], kernel_size=2, stride=1, padding=0, bias=False)
    with torch.no_grad():
        conv.weight.copy_(conv_w)
        low = conv(F.pad(grid[None], (1, 0, 1, 0)))[0]  # [r, H, W]; pad = (left, right, top, bottom)
        scale = cfg['lora_alpha'] / cfg['r'] ** 0.5
        delta = scale * torch.einsum('rhw,or->hwo', low, b)
    print(json.dumps(delta.tolist()))


main()
