/**
 * Convolution building blocks with gradients that run fast on the wasm backend (NHWC throughout).
 *
 * The wasm backend has no Conv2DBackpropFilter kernel, and its Conv2DBackpropInput is 5–10× slower than
 * its forward Conv2D. So `conv3x3` is a custom-gradient op, measured fastest among the variants tried
 * (bench numbers in the comments are ms at B=32, 8×8, 64→64 channels, one wasm core):
 *   forward  y  = conv2d(x, W)                                  native XNNPACK conv (4 ms; im2col+matMul 7 ms)
 *   input    dx = conv2d(dy, flip(W)ᵀ)                          the same forward kernel again (4 ms; backprop-input kernel 74 ms)
 *   filter   dW = (dyᵀ · im2col(x))ᵀ                            im2col as one depthwise conv with one-hot filters
 *                                                               (no slices), then one 2-D matMul (4 ms)
 * The 2-D transpose kernel on wasm is pathologically slow for tall matrices ([8192, 64]: 16 ms), while the
 * same permutation written as a 3-D transpose takes 0.6 ms; `transpose2d` uses that form.
 *
 * Each input's gradient is computed only when the tape needs it (util/lazy-grad.ts): the first layer's
 * input (the image) gets no dx, a frozen filter no dW.
 *
 * Stride-2 steps are space-to-depth / depth-to-space (pure reshape + 4-D transpose), so no strided conv
 * or transposed conv is needed.
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from '../model/linear';
import { lazyCustomGrad } from '../util/lazy-grad';
import { transpose2d } from '../util/transpose';

/**
 * One-hot depthwise filter [3, 3, C, 9] that copies tap k = 3·kh + kw of channel c into output channel
 * 9·c + k: a depthwise conv with it is im2col with columns ordered (c, kh, kw).
 */
function im2colFilter(c: number): tf.Tensor4D {
  const f = new Float32Array(9 * c * 9);
  for (let k = 0; k < 9; k++) for (let ch = 0; ch < c; ch++) f[(k * c + ch) * 9 + k] = 1;
  return tf.tensor4d(f, [3, 3, c, 9]);
}

/** im2col of a 3×3 'same' conv: x [B, H, W, C] → [B·H·W, 9·C], columns ordered (c, kh, kw). */
export function im2col3x3(x: tf.Tensor4D): tf.Tensor2D {
  const [b, h, w, c] = x.shape;
  return tf.tidy(() => tf.reshape(tf.depthwiseConv2d(x, im2colFilter(c), 1, 'same'), [b * h * w, 9 * c]));
}

/** 3×3 convolution, stride 1, 'same' zero padding: x [B, H, W, Cin], w [3, 3, Cin, Cout] → [B, H, W, Cout]. */
export const conv3x3 = lazyCustomGrad<[x: tf.Tensor4D, w: tf.Tensor4D], tf.Tensor4D>(([x, w], save) => {
  save([x, w]);
  return {
    value: tf.conv2d(x, w, 1, 'same'), // [B, H, W, Cout]
    gradFunc: (dy, saved) => {
      const [xs, ws] = saved as tf.Tensor4D[];
      const [b, h, wd, cin] = xs.shape;
      const cout = ws.shape[3];
      const n = b * h * wd;
      return [
        () => {
          const wFlip = tf.transpose(tf.reverse(ws, [0, 1]), [0, 1, 3, 2]); // [3, 3, Cout, Cin]
          return tf.conv2d(dy, wFlip, 1, 'same'); // dx [B, H, W, Cin]
        },
        () => {
          const dyT = transpose2d(tf.reshape(dy, [n, cout])); // [Cout, N]
          const dwT = tf.matMul(dyT, im2col3x3(xs)); // [Cout, 9·Cin], columns (c, kh, kw)
          return tf.transpose(tf.reshape(dwT, [cout, cin, 3, 3]), [2, 3, 1, 0]); // dW [3, 3, Cin, Cout]
        },
      ];
    },
  };
});

/** 1×1 convolution of an NHWC tensor: the model's `linear` (x·W, wasm-fast lazy gradients) on flattened pixels. */
export function conv1x1(x: tf.Tensor4D, w: tf.Tensor2D): tf.Tensor4D {
  const [b, h, wd, c] = x.shape;
  return tf.reshape(linear(tf.reshape(x, [b * h * wd, c]), w), [b, h, wd, w.shape[1]]);
}

/**
 * Space-to-depth by 2: [B, H, W, C] → [B, H/2, W/2, 4C], channel index (dy·2 + dx)·C + c. A reshape and
 * a 4-D transpose, so its gradient is the inverse permutation.
 */
export function spaceToDepth2(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const t = tf.reshape(x, [b * (h / 2), 2, w / 2, 2 * c]); // [(B, H/2), dy, W/2, (dx, c)]
  return tf.reshape(tf.transpose(t, [0, 2, 1, 3]), [b, h / 2, w / 2, 4 * c]);
}

/** Depth-to-space by 2 (pixel shuffle), the inverse of spaceToDepth2: [B, H, W, 4C] → [B, 2H, 2W, C]. */
export function depthToSpace2(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c4] = x.shape;
  const c = c4 / 4;
  const t = tf.reshape(x, [b * h, w, 2, 2 * c]); // [(B, H), W, dy, (dx, c)]
  return tf.reshape(tf.transpose(t, [0, 2, 1, 3]), [b, 2 * h, 2 * w, c]);
}
