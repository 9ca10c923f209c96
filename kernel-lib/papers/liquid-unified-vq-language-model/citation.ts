/** The paper this folder reproduces (issue #16, notebook 03), as the notebook and README cite it. */
export const CITATION = {
  title: 'Liquid: Language Models are Scalable and Unified Multi-modal Generators',
  authors: ['Junfeng Wu', 'Yi Jiang', 'Chuofan Ma', 'Yuliang Liu', 'Hengshuang Zhao', 'Zehuan Yuan', 'Song Bai', 'Xiang Bai'],
  year: 2024,
  venue: 'arXiv preprint arXiv:2412.04332 (v1–v2, Dec 2024, titled "Liquid: Language Models are Scalable Multi-modal Generators")',
  url: 'https://arxiv.org/abs/2412.04332',
  /** The project page (abstract, the scaling and mutual-improvement figures) and the official code. */
  project: 'https://foundationvision.github.io/Liquid/',
  code: 'https://github.com/FoundationVision/Liquid',
} as const;
