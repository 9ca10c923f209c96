import * as path from 'path';
import { executeNotebook, REPO } from '../helpers/notebook';
test('full', async () => {
  const res = await executeNotebook(path.join(REPO, 'notebooks', '01-redundancy-aware-moe-plora.ipynb'), { timeoutS: 1500, env: { SWITCHBOARD_QUICK: undefined }, outputPath: path.join(REPO, 'test-artifacts', '01-full.executed.ipynb') });
  console.log(res.timing);
}, 1600_000);
