/** Analyses over routing traces and models: co-activation, routing by modality, the text suite, budgets, perplexity (paper-specific analyses are in papers/). */
export { expertCoActivation, coActivationByLayer } from './co-activation';
export type { CoActivation, CoActivationOptions } from './co-activation';
export { routingByModality, exclusivityByDepth, jensenShannon } from './routing-by-modality';
export type { RoutingByModality } from './routing-by-modality';
export { textSuite, relativeChange, scoreSequences, TEXT_TASKS } from './text-suite';
export type { TextTask, TextSuiteOptions, TextSuiteResult, TaskScore, ScoreChange, RelativeChange } from './text-suite';
export { budgetTable } from './budget';
export type { BudgetTable, AdapterBudget } from './budget';
export { modelPerplexity, BigramBaseline, windows } from './perplexity';
export type { PerplexityResult, PerplexityOptions } from './perplexity';
export type { TraceLike } from './traces';
