/** The paper this folder reproduces (issue #15, notebook 04), as the notebook and README cite it. */
export const CITATION = {
  title: 'MiniGPT-5: Interleaved Vision-and-Language Generation via Generative Vokens',
  authors: ['Kaizhi Zheng', 'Xuehai He', 'Xin Eric Wang'],
  year: 2023,
  venue: 'arXiv:2310.02239',
  url: 'https://arxiv.org/abs/2310.02239',
} as const;
