/** The checkpoint layer: safetensors I/O, Mixtral config.json mapping, and whole-checkpoint save/load. */
export { CheckpointError } from './errors';
export {
  CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE, saveCheckpoint, loadCheckpoint,
} from './checkpoint';
export type { CheckpointDtype, SaveCheckpointOptions, LoadedCheckpoint } from './checkpoint';
export { SWITCHBOARD_FORMAT_VERSION, toHfConfig, parseHfConfig } from './hf-config';
export type { TorchDtype, HfConfigOptions, ParsedHfConfig } from './hf-config';
export {
  MAX_HEADER_BYTES, encodeSafetensors, decodeSafetensors, readSafetensors, writeSafetensors,
} from './safetensors';
export type {
  SafetensorsDtype, SafetensorsWriteDtype, SafetensorsTensor, SafetensorsContents, SafetensorsWriteOptions,
} from './safetensors';
export { float32ToFloat16Bits, float16BitsToFloat32, bfloat16BitsToFloat32, roundToFloat16 } from './float16';
