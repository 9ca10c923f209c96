/** backend: SWITCHBOARD_TRAIN_WORKERS → session.device.trainWorkers (data-parallel training threads). */
import { trainWorkersFromEnv, initBackend } from '../../kernel-lib/backend/backend';

test('unset or empty: 1 (train on this thread); a positive integer as given; auto: one per core, at most 8', () => {
  expect(trainWorkersFromEnv(undefined, 2)).toBe(1);
  expect(trainWorkersFromEnv('', 2)).toBe(1);
  expect(trainWorkersFromEnv('3', 2)).toBe(3);
  expect(trainWorkersFromEnv('auto', 2)).toBe(2);
  expect(trainWorkersFromEnv('auto', 64)).toBe(8);
});

test('anything else is named', () => {
  for (const bad of ['0', '-1', '1.5', 'two']) {
    expect(() => trainWorkersFromEnv(bad, 2)).toThrow(`SWITCHBOARD_TRAIN_WORKERS must be a positive integer or 'auto', got '${bad}'`);
  }
});

test('the device reports it', async () => {
  const d = await initBackend('cpu');
  expect(d.trainWorkers).toBe(trainWorkersFromEnv());
  expect(d.threads).toBe(1);
});
