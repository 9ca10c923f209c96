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

/** Verdicts as a results file holds them: these five fields only (a paper's verdicts may carry more). */
export function verdictRecords(vs: readonly Verdict[]): Verdict[] {
  return vs.map((v) => ({ claim: v.claim, paper: v.paper, ours: v.ours, criterion: v.criterion, reproduces: v.reproduces }));
}
