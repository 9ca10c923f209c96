#!/usr/bin/env node
'use strict';
/**
 * `npm run ship:liquid -- [RUN ...] [--from DIR] [--to DIR]`: ships finished Liquid runs (issue #16) into the
 * repository, so notebook 03's quick mode runs on committed files (sb.liquid.shipRuns): every finished run's
 * metrics.json and per-item held-out scores (eval/step-N.json), each trained size's text checkpoint record
 * (text-<size>/metrics.json), and the final float16 checkpoint of each size's mixed run at seed 0 (what the
 * notebook decodes and routes live; all Liquid checkpoints together at most 40 MB), into
 * data/checkpoints/liquid/<run>/. Commit the directories it writes.
 *
 *   RUN          run names (<arm>-seed<k>, text-<size>); each must be finished, else exit 1 naming what is missing.
 *                Without names: every finished run under --from; the others are counted, unfinished ones listed.
 *   --from DIR   where the runs are (default .cache/liquid, what npm run train:liquid writes)
 *   --to DIR     where they go (default data/checkpoints/liquid)
 */
const { shipMain } = require('./lib/ship');

shipMain({ paper: 'liquid', folder: (sb) => sb.liquid.SHIPPED_FOLDER, budget: (r) => ` (Liquid checkpoints there: ${(r.checkpointBytes / 2 ** 20).toFixed(1)} MB)` });
