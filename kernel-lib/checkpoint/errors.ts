/**
 * One error type for everything the checkpoint layer rejects. The message always starts with the file
 * it is about (`<dir>/model.safetensors: ...`), and `.tensor` names the tensor when there is one, so a
 * notebook can show the user exactly which file and which weight to look at. A notebook shows it as
 * that one line (SwitchboardError's inspect), not as a stack and a field dump.
 */
import { SwitchboardError } from '../errors';

export class CheckpointError extends SwitchboardError {
  /** The file (or directory) the problem is in, as the caller spelled its path. */
  readonly file: string;
  /** The tensor the problem is about, when there is one (`declare`: no own property when there is none). */
  declare readonly tensor?: string;
  /** The message without the `<file>: ` prefix. */
  readonly detail: string;

  constructor(file: string, detail: string, tensor?: string) {
    super(`${file}: ${detail}`);
    this.file = file;
    this.detail = detail;
    if (tensor !== undefined) (this as { tensor?: string }).tensor = tensor;
  }
}
