#!/usr/bin/env node
'use strict';
/**
 * `npm run ship:mumu -- [RUN ...] [--from DIR] [--to DIR]`: ships finished MUMU runs (issue #17) into the
 * repository, so notebook 05's quick mode runs on committed files (sb.mumu.shipRuns): every finished run's
 * metrics.json and per-prompt held-out scores (eval-heldout.json), and for the live runs (seed 0 of every run
 * set but decoder-full) the trained connector and decoder LoRA as float16 (all MUMU weights together at most
 * 15 MB), into data/checkpoints/mumu/<run>/. Commit the directories it writes.
 *
 *   RUN          run names (mumu-<arm>-t<N>-seed<k>, mumu-caption-only-seed<k>); each must be finished (trained
 *                and scored), else exit 1 naming what is missing and the command that finishes it.
 *                Without names: every finished run under --from; the others are counted, unfinished ones listed.
 *   --from DIR   where the runs are (default .cache/mumu, what npm run train:mumu writes)
 *   --to DIR     where they go (default data/checkpoints/mumu)
 */
const { shipMain } = require('./lib/ship');

shipMain({ paper: 'mumu', folder: (sb) => sb.mumu.RUNS_FOLDER, budget: (r) => ` (MUMU weights there: ${(r.weightBytes / 2 ** 20).toFixed(1)} MB)` });
