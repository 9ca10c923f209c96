/** Sizes of the data sets' images (the pixels themselves are RGBImage, image/types.ts; operations in image/rgb.ts). */

/** Side of every data-set image (emoji cells, scenes, story frames). */
export const IMAGE_SIZE = 32;
/** Side of the low-resolution copies (the 16×16 → 4×4-code stage). */
export const LOW_RES_SIZE = 16;
export const IMAGE_BYTES = IMAGE_SIZE * IMAGE_SIZE * 3;
