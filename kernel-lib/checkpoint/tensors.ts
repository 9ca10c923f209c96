/**
 * The check every weights file of a checkpoint directory gets on load: each expected tensor present with
 * the shape its config gives and only finite values, and no tensor the config does not know. Errors are
 * CheckpointErrors naming the file and the tensor.
 */
import { CheckpointError } from './errors';
import type { HostTensor } from '../model/params';

/**
 * Checks `tensors` (read from `file`) against the names and shapes in `want`. `against` names what gives the
 * shapes in the messages ("the config needs", "not in this config"; a LoRA file: "spec").
 */
export function checkTensors(file: string, tensors: ReadonlyMap<string, HostTensor>, want: ReadonlyMap<string, readonly number[]>, against = 'config'): void {
  for (const [name, shape] of want) {
    const t = tensors.get(name);
    if (!t) throw new CheckpointError(file, `missing tensor "${name}"`, name);
    if (t.shape.join(',') !== shape.join(',')) throw new CheckpointError(file, `tensor "${name}" has shape [${t.shape}], the ${against} needs [${shape}]`, name);
    const bad = t.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new CheckpointError(file, `tensor "${name}" holds ${t.data[bad]} at index ${bad}`, name);
  }
  for (const name of tensors.keys()) if (!want.has(name)) throw new CheckpointError(file, `unexpected tensor "${name}" (not in this ${against})`, name);
}
