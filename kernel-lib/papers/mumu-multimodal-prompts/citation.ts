/** The paper this folder reproduces (issue #17, notebook 05), as the notebook and README cite it. */
export const CITATION = {
  title: 'MUMU: Bootstrapping Multimodal Image Generation from Text-to-Image Data',
  authors: ['William Berman', 'Alex Peysakhovich'],
  year: 2024,
  venue: 'arXiv:2406.18790',
  url: 'https://arxiv.org/abs/2406.18790',
} as const;
