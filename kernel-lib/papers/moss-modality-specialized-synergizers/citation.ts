/** The paper this folder reproduces (issue #13, notebook 02), as the notebook and README cite it. */
export const CITATION = {
  title: 'Modality-Specialized Synergizers for Interleaved Vision-Language Generalists',
  authors: ['Zhiyang Xu', 'Minqian Liu', 'Ying Shen', 'Joy Rimchala', 'Jiaxin Zhang', 'Qifan Wang', 'Yu Cheng', 'Lifu Huang'],
  year: 2025,
  venue: 'ICLR 2025 (arXiv:2407.03604, 2024)',
  url: 'https://arxiv.org/abs/2407.03604',
} as const;
