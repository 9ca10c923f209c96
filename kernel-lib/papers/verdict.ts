/**
 * A paper claim judged on measured numbers, the same for every paper notebook: the claim, the paper's own
 * number, ours, the criterion it is judged by (fixed in code before the run), and whether it reproduces.
 * `VERDICT` is its shape in a results JSON.
 */
import { bool, obj, str } from './shape';

export interface Verdict {
  claim: string;
  paper: string;
  ours: string;
  criterion: string;
  reproduces: boolean;
}

export const VERDICT = obj({ claim: str, paper: str, ours: str, criterion: str, reproduces: bool });
