/** `switchboard info MODEL [--json]`: a checkpoint's size, shape, vocabulary and the backend it would run on. */
import { Session } from '../session';
import { CommandSpec, parseCommand } from './args';
import type { Io } from './io';

export const INFO: CommandSpec = {
  usage: 'switchboard info',
  positionals: ['MODEL'],
  about: 'Loads the checkpoint directory MODEL and prints its parameters, layers, vocabulary and the backend it runs on.',
  options: { json: { type: 'boolean', help: 'print Session.info() as one JSON line' } },
};

export async function info(argv: string[], io: Io): Promise<number> {
  const { values, positionals, help } = parseCommand(argv, INFO);
  if (help) return io.help(INFO);
  const s = await Session.load(positionals[0]);
  try {
    const i = s.info();
    if (values.json) {
      io.out(JSON.stringify(i));
      return 0;
    }
    const c = s.config;
    const v = i.vocabulary as Record<string, unknown>;
    io.out(`${positionals[0]}
  parameters   ${(i.parameters as number).toLocaleString('en-US')}
  layers       ${c.numLayers} × (attention ${c.numHeads} heads / ${c.numKvHeads} kv, MoE ${c.numExperts} experts top-${c.topK}${c.sharedExpertSize ? ` + shared ${c.sharedExpertSize}` : ''})
  hidden       ${c.hiddenSize}, expert width ${c.intermediateSize}, context ${c.maxPositions}
  vocabulary   ${v.total} ids: ${v.text} text, ${v.imageCodes} image codes${v.imageGrid ? ` (${JSON.stringify(v.imageGrid)})` : ''}, ${v.vokens} vokens
  backend      ${s.device.backend} (gpu: ${s.device.gpu}, threads: ${s.device.threads})`);
    return 0;
  } finally {
    s.dispose();
  }
}
