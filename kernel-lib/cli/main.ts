/**
 * The `switchboard` command (bin/switchboard.js runs `main`): one entry point, one sub-command per job.
 *   switchboard info MODEL [--json]
 *   switchboard generate MODEL --prompt TEXT [...]
 *   switchboard diffuse --prompt TEXT --out FILE.png [...]
 *   switchboard bench [...]
 *   switchboard data [...]
 *   switchboard train RECIPE [...]
 * Every sub-command takes --help. Exit codes: 0 ok, 1 error (one line on stderr), 2 usage, 130 interrupted.
 * The npm scripts (npm run data, npm run train:<recipe>, npm run bench) call this same entry.
 */
import { DEBUG_ENV_VAR } from '../errors';
import { CommandSpec, UsageError } from './args';
import { processIo, Io } from './io';
import { info, INFO } from './info';
import { generate } from './generate';
import { diffuse } from './diffuse';
import { data } from './data';
import { train, trainPrefix } from './train';

const COMMANDS: Record<string, { about: string; run: (argv: string[], io: Io) => Promise<number> }> = {
  info: { about: INFO.about.split('\n')[0], run: info },
  generate: { about: 'Generates from a checkpoint, text and images, printing tokens (or JSON steps) as they come.', run: generate },
  diffuse: { about: 'Draws images from a caption with the latent diffusion decoder into a PNG.', run: diffuse },
  bench: {
    about: 'Measures decode, prefill, image and training speed beside the PyTorch reference (npm run bench).',
    run: async (argv) => (await import('../../bench/run')).runBench(argv),
  },
  data: { about: 'Builds the data sets into .cache/data and retrains the text tokenizer (npm run data).', run: data },
  train: { about: 'Trains a shipped model by its recipe (npm run train:<recipe>); switchboard train --help lists them.', run: train },
};

export const SWITCHBOARD: CommandSpec = {
  usage: 'switchboard',
  positionals: ['COMMAND'],
  about: `Watch Mixture-of-Experts models route text and image tokens. Commands (each takes --help):\n${Object.entries(COMMANDS)
    .map(([k, c]) => `  ${k.padEnd(9)} ${c.about}`)
    .join('\n')}\nExit codes: 0 ok, 1 error, 2 usage, 130 interrupted (Ctrl-C).`,
  options: {},
};

/** Runs one command line; returns the exit status. Errors become one line on stderr, prefixed by the command. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [cmd, ...rest] = argv;
  // a usage error reads as the npm script a user typed: `train:vqvae: …`, `train: …`, else `switchboard: …`
  const prefix = cmd === 'train' ? trainPrefix(rest[0]) : 'switchboard';
  try {
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      io.help(SWITCHBOARD);
      return cmd === undefined ? 2 : 0;
    }
    const c = COMMANDS[cmd];
    if (!c) throw new UsageError(`unknown command '${cmd}'`);
    return await c.run(rest, io);
  } catch (e) {
    const usage = e instanceof UsageError;
    io.err(`${prefix}: ${e instanceof Error ? e.message : String(e)}`);
    // one line is what a user needs; a developer chasing an internal error asks for the stack
    if (!usage && process.env[DEBUG_ENV_VAR] === '1' && e instanceof Error && e.stack) io.err(e.stack);
    return usage ? 2 : 1;
  }
}
