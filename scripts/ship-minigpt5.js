#!/usr/bin/env node
'use strict';
/**
 * `npm run ship:minigpt5 -- [RUN ...] [--from DIR] [--to DIR]`: ships finished MiniGPT-5 runs (issue #15) into
 * the repository, so notebook 04's quick mode runs on committed files (sb.minigpt5.shipRuns): every finished
 * run's metrics.json and per-item held-out scores (eval.json), and the float16 weights of the live runs
 * (stage 1 and stage 2 of `full` at seed 0: voken rows, mapper, stage-2 LoRA; each file at most 15 MB), into
 * data/checkpoints/minigpt5/<run>/. Commit the directories it writes.
 *
 *   RUN          run names (minigpt5-s<stage>-<arm>-seed<k>); each must be finished and evaluated, else exit 1
 *                naming what is missing and the command. Without names: every finished run under --from; the
 *                others are counted, started ones listed.
 *   --from DIR   where the runs are (default .cache/minigpt5, what npm run train:minigpt5 writes)
 *   --to DIR     where they go (default data/checkpoints/minigpt5)
 */
const { shipMain } = require('./lib/ship');

shipMain({ paper: 'minigpt5', folder: (sb) => sb.minigpt5.RUNS_FOLDER });
