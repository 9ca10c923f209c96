/** The paper this folder reproduces, as the notebook and README cite it. */
export const CITATION = {
  title: 'Efficient Multimodal Generation via Redundancy-Aware Mixture-of-Experts',
  authors: ['Raman Dutt', 'Harleen Hanspal', 'Petru-Daniel Tudosiu', 'Alexander Black', 'Yongxin Yang', 'Steven McDonagh', 'Sarah Parisot'],
  year: 2026,
  venue: 'ICLR 2026 (tiny paper track)',
  url: 'https://openreview.net/forum?id=jlYSLZ4DFB',
  /** The longer preprint of the same work. */
  preprint: { title: 'Exploiting Mixture-of-Experts Redundancy Unlocks Multimodal Generative Abilities', year: 2025, url: 'https://arxiv.org/abs/2503.22517' },
} as const;
