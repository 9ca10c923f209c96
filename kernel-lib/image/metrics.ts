/** Reconstruction quality. */

/**
 * PSNR in dB of 8-bit images: 10·log10(255² / MSE), MSE over every value of `a` vs `b` (so for a set of
 * images this is the PSNR of the pooled MSE, not the mean of per-image PSNRs). Infinity when identical.
 */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`psnr: length mismatch ${a.length} vs ${b.length}`);
  if (a.length === 0) throw new Error('psnr: no values');
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    se += d * d;
  }
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** Mean of per-image PSNRs (images of `per` values each); identical images count as 100 dB. */
export function meanImagePsnr(a: ArrayLike<number>, b: ArrayLike<number>, per: number): number {
  if (a.length !== b.length || a.length % per !== 0) throw new Error(`meanImagePsnr: lengths ${a.length}, ${b.length} are not equal multiples of ${per}`);
  const n = a.length / per;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let se = 0;
    for (let j = i * per; j < (i + 1) * per; j++) se += (a[j] - b[j]) ** 2;
    sum += se === 0 ? 100 : 10 * Math.log10((255 * 255) / (se / per));
  }
  return sum / n;
}
