/** The one argument parser (kernel-lib/cli/args.ts): every bad command line is one UsageError naming the flag. */
import { choiceArg, CommandSpec, helpText, numberArg, numberChoice, parseCommand, seedArg, UsageError } from '../../kernel-lib/cli/args';
import { recipeArgs } from '../../kernel-lib/cli/recipe-command';

const SPEC: CommandSpec = {
  usage: 'switchboard demo',
  positionals: ['MODEL'],
  about: 'A demo command.',
  options: {
    steps: { type: 'string', arg: 'N', help: 'how many' },
    lr: { type: 'string', arg: 'X', help: 'a rate' },
    seed: { type: 'string', arg: 'S', help: 'a seed' },
    json: { type: 'boolean', help: 'as JSON' },
  },
};

const usageError = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('no error');
};

test('values, positionals, booleans; a negative number is a value, not a flag', () => {
  const p = parseCommand(['m', '--steps', '3', '--json', '--lr', '-0.5'], SPEC);
  expect(p).toEqual({ values: { steps: '3', json: true, lr: '-0.5' }, positionals: ['m'], help: false });
  expect(numberArg(p.values, 'steps', { integer: true, min: 1 })).toBe(3);
  expect(numberArg(p.values, 'lr')).toBe(-0.5);
  expect(numberArg(p.values, 'seed')).toBeUndefined();
  expect(parseCommand(['m', '--steps=7'], SPEC).values.steps).toBe('7');
});

test.each([
  [['m', '--bogus'], 'unknown option --bogus'],
  [['m', '-x'], 'unknown option -x'],
  [['m', '--steps'], '--steps needs a value'],
  [['m', '--steps', '--json'], '--steps needs a value'],
  [['m', '--json=1'], '--json takes no value'],
  [[], 'demo takes exactly one MODEL, got none'],
  [['a', 'b'], "demo takes exactly one MODEL, got 'a' 'b'"],
])('%j → %s', (argv, message) => {
  expect(usageError(() => parseCommand(argv, SPEC))).toBe(message);
});

test('a command can keep its older wording for unknown or incomplete flags', () => {
  const spec = { ...SPEC, unknownOrIncomplete: (f: string) => `unknown or incomplete argument ${f}` };
  expect(usageError(() => parseCommand(['m', '--steps'], spec))).toBe('unknown or incomplete argument --steps');
  expect(usageError(() => parseCommand(['m', '--nope'], spec))).toBe('unknown or incomplete argument --nope');
});

test.each([
  ['2.5', { integer: true, min: 1 }, "--steps must be a positive integer, got '2.5'"],
  ['0', { integer: true, min: 1 }, "--steps must be a positive integer, got '0'"],
  ['-1', { integer: true, min: 0 }, "--steps must be a non-negative integer, got '-1'"],
  ['1e400', {}, "--steps must be a number, got '1e400'"],
  [' ', {}, "--steps must be a number, got ' '"],
  ['x', { integer: true }, "--steps must be an integer, got 'x'"],
  ['-2', { min: 0 }, "--steps must be a number ≥ 0, got '-2'"],
])('numberArg %j %j', (v, opts, message) => {
  expect(usageError(() => numberArg({ steps: v }, 'steps', opts))).toBe(message);
});

test('seedArg: integers in [0, 2^32) only', () => {
  expect(seedArg({ seed: '0' })).toBe(0);
  expect(seedArg({ seed: '4294967295' })).toBe(4294967295);
  expect(seedArg({})).toBeUndefined();
  for (const bad of ['4294967296', '-1', '1.5', 'seven', '', '1e10']) {
    expect(usageError(() => seedArg({ seed: bad }))).toBe(`--seed must be an integer in [0, 2^32), got '${bad}'`);
  }
});

test('--help anywhere asks for help; helpText lists every option and --help', () => {
  expect(parseCommand(['--bogus', '--help'], SPEC).help).toBe(true);
  expect(parseCommand(['-h'], SPEC).help).toBe(true);
  const text = helpText(SPEC);
  expect(text.split('\n')[0]).toBe('usage: switchboard demo MODEL [options]');
  for (const flag of ['--steps N', '--lr X', '--seed S', '--json', '--help']) expect(text).toContain(`  ${flag} `);
});

test('choiceArg and numberChoice: absent is undefined, a choice comes back, anything else names the flag and the choices', () => {
  const v = { arm: 'moss', rank: '5', budget: undefined };
  expect(choiceArg(v, 'arm', ['lora', 'moss'] as const)).toBe('moss');
  expect(choiceArg(v, 'budget', ['full', 'session'])).toBeUndefined();
  expect(usageError(() => choiceArg(v, 'arm', ['lora', 'full']))).toBe("--arm must be one of lora, full, got 'moss'");
  expect(numberChoice(v, 'rank', 8, [4, 8] as const)).toBe(8);
  expect(numberChoice(v, 'rank', undefined, [4, 8])).toBeUndefined();
  expect(usageError(() => numberChoice(v, 'rank', 5, [4, 8, 16]))).toBe("--rank must be one of 4, 8, 16, got '5'");
});

test('recipeArgs: the recipes\' shared training options, --lr > 0, checked --lr first', () => {
  expect(recipeArgs({ seed: '3', steps: '10', batch: '4', lr: '1e-4', 'probe-items': '0', out: 'o', fresh: true })).toEqual({ seed: 3, steps: 10, batchSize: 4, lr: 1e-4, probeItems: 0, out: 'o', fresh: true });
  expect(recipeArgs({})).toEqual({ fresh: false });
  expect(usageError(() => recipeArgs({ lr: '0' }))).toBe("--lr must be a number > 0, got '0'");
  expect(usageError(() => recipeArgs({ lr: '0', steps: '0' }))).toBe("--lr must be a number > 0, got '0'");
  expect(usageError(() => recipeArgs({ steps: '0', batch: 'x' }))).toBe("--steps must be a positive integer, got '0'");
  expect(usageError(() => recipeArgs({ 'probe-items': '-1' }))).toBe("--probe-items must be a non-negative integer, got '-1'");
});
