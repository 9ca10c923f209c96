import * as path from 'path';
import * as fs from 'fs';
import { executeNotebook, REPO } from '../helpers/notebook';
test('retrain path', async () => {
  const res = await executeNotebook(path.join(REPO, 'notebooks', '01-redundancy-aware-moe-plora.ipynb'), { timeoutS: 1500, env: { SWITCHBOARD_S1_RETRAIN: '1', SWITCHBOARD_RESULTS_DIR: '/tmp/retrain01' }, outputPath: '/tmp/retrain01.executed.ipynb' });
  console.log(res.timing, fs.readFileSync('/tmp/retrain01/01-redundancy-aware-moe-plora.json', 'utf8').slice(0, 600));
}, 1600_000);
