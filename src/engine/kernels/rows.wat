;; Elementwise and row-wise work of the layers in WebAssembly SIMD, on the same shared memory as the
;; products (kernels.wat): bench/build-kernels.mjs assembles this file into the same module, after
;; kernels.wat's functions. Addresses are bytes, strides and counts elements.
;;
;; Every function here computes in double what the JavaScript it replaced computed in double, op
;; for op in the same order (no fused multiply-add: WebAssembly has none outside relaxed SIMD),
;; and rounds to float32 where a Float32Array store rounded, so its numbers are that code's bit for
;; bit. Two lanes of float64 where the JavaScript had one number; the exception is layerNormBackward,
;; whose two row sums are each split over the two lanes (see there).

  ;; ---------------------------------------------------------------------------------------------
  ;; GELU, tanh approximation (layers/gelu.ts's geluScalar): with x = fl(h + b) when bias >= 0,
  ;;   u = √(2/π)·(x + ((0.044715·x)·x)·x),   tanh u by gelu.ts's rational fastTanh,
  ;;   dst = fl((0.5·x)·(1 + tanh u)),   tanhDst = fl(tanh u) when tanhDst >= 0 (training keeps it).
  ;; Outside −7.9 < u < 7.9 (and for NaN) fastTanh is Math.tanh: the imported $tanh, per lane.
  ;; Rows rowStart .. rowEnd−1 of `cols` columns; src and dst may be the same (in place); tanhDst
  ;; has dst's stride; bias (cols float32) is added first when >= 0.
  (func (export "gelu")
    (param $src i32) (param $ldSrc i32) (param $dst i32) (param $ldDst i32) (param $tanhDst i32)
    (param $cols i32) (param $bias i32) (param $rowStart i32) (param $rowEnd i32)
    (local $i i32) (local $j i32) (local $from i32) (local $to i32) (local $at i32) (local $pair i32)
    (local $x v128) (local $v v128) (local $u v128) (local $u2 v128) (local $th v128) (local $inRange v128)
    (local.set $i (local.get $rowStart))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rowEnd)))
        (local.set $from (i32.add (local.get $src) (i32.shl (i32.mul (local.get $i) (local.get $ldSrc)) (i32.const 2))))
        (local.set $to (i32.shl (i32.mul (local.get $i) (local.get $ldDst)) (i32.const 2)))
        (local.set $j (i32.const 0))
        (block $pairsDone
          (loop $pairs
            (br_if $pairsDone (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $at (i32.shl (local.get $j) (i32.const 2)))
            ;; two columns, or the row's last one alone (its other lane 0: in range, not stored)
            (local.set $pair (i32.ge_u (i32.sub (local.get $cols) (local.get $j)) (i32.const 2)))
            (if (local.get $pair)
              (then
                (local.set $x (v128.load64_zero (i32.add (local.get $from) (local.get $at))))
                (if (i32.ge_s (local.get $bias) (i32.const 0))
                  (then (local.set $x (f32x4.add (local.get $x) (v128.load64_zero (i32.add (local.get $bias) (local.get $at))))))))
              (else
                (local.set $x (v128.load32_zero (i32.add (local.get $from) (local.get $at))))
                (if (i32.ge_s (local.get $bias) (i32.const 0))
                  (then (local.set $x (f32x4.add (local.get $x) (v128.load32_zero (i32.add (local.get $bias) (local.get $at)))))))))
            (local.set $v (f64x2.promote_low_f32x4 (local.get $x)))
            (local.set $u (f64x2.mul (f64x2.splat (f64.const 0x1.9884533d43651p-1))
              (f64x2.add (local.get $v)
                (f64x2.mul (f64x2.mul (f64x2.mul (f64x2.splat (f64.const 0x1.6e4e26d4801f7p-5)) (local.get $v)) (local.get $v)) (local.get $v)))))
            (local.set $u2 (f64x2.mul (local.get $u) (local.get $u)))
            ;; fastTanh's numerator u·(A1 + u²·(A3 + … + u²·A13)) over B0 + u²·(B2 + u²·(B4 + u²·B6))
            (local.set $th (f64x2.div
              (f64x2.mul (local.get $u)
                (f64x2.add (f64x2.splat (f64.const 0x1.40b3b7f1566d8p-8)) (f64x2.mul (local.get $u2)
                (f64x2.add (f64x2.splat (f64.const 0x1.4e1bd925e6689p-11)) (f64x2.mul (local.get $u2)
                (f64x2.add (f64x2.splat (f64.const 0x1.f2869425b6b19p-17)) (f64x2.mul (local.get $u2)
                (f64x2.add (f64x2.splat (f64.const 0x1.b800811597ab9p-25)) (f64x2.mul (local.get $u2)
                (f64x2.add (f64x2.splat (f64.const -0x1.7a6ffd1849c63p-34)) (f64x2.mul (local.get $u2)
                (f64x2.add (f64x2.splat (f64.const 0x1.c266fb80f2d7ap-43)) (f64x2.mul (local.get $u2)
                  (f64x2.splat (f64.const -0x1.3e4b80d6efd1dp-52)))))))))))))))
              (f64x2.add (f64x2.splat (f64.const 0x1.40b3baa251f6cp-8)) (f64x2.mul (local.get $u2)
              (f64x2.add (f64x2.splat (f64.const 0x1.2954091e6ed38p-9)) (f64x2.mul (local.get $u2)
              (f64x2.add (f64x2.splat (f64.const 0x1.f12babcca38bap-14)) (f64x2.mul (local.get $u2)
                (f64x2.splat (f64.const 0x1.41a7b09bb7492p-20))))))))))
            (local.set $inRange (v128.and
              (f64x2.gt (local.get $u) (f64x2.splat (f64.const -7.9)))
              (f64x2.lt (local.get $u) (f64x2.splat (f64.const 7.9)))))
            (if (i32.eqz (i64x2.all_true (local.get $inRange)))
              (then
                (if (i64.eqz (i64x2.extract_lane 0 (local.get $inRange)))
                  (then (local.set $th (f64x2.replace_lane 0 (local.get $th) (call $tanh (f64x2.extract_lane 0 (local.get $u)))))))
                (if (i64.eqz (i64x2.extract_lane 1 (local.get $inRange)))
                  (then (local.set $th (f64x2.replace_lane 1 (local.get $th) (call $tanh (f64x2.extract_lane 1 (local.get $u)))))))))
            (local.set $x (f32x4.demote_f64x2_zero
              (f64x2.mul (f64x2.mul (f64x2.splat (f64.const 0.5)) (local.get $v)) (f64x2.add (f64x2.splat (f64.const 1)) (local.get $th)))))
            (local.set $th (f32x4.demote_f64x2_zero (local.get $th)))
            (if (local.get $pair)
              (then
                (v128.store64_lane 0 (i32.add (i32.add (local.get $dst) (local.get $to)) (local.get $at)) (local.get $x))
                (if (i32.ge_s (local.get $tanhDst) (i32.const 0))
                  (then (v128.store64_lane 0 (i32.add (i32.add (local.get $tanhDst) (local.get $to)) (local.get $at)) (local.get $th)))))
              (else
                (v128.store32_lane 0 (i32.add (i32.add (local.get $dst) (local.get $to)) (local.get $at)) (local.get $x))
                (if (i32.ge_s (local.get $tanhDst) (i32.const 0))
                  (then (v128.store32_lane 0 (i32.add (i32.add (local.get $tanhDst) (local.get $to)) (local.get $at)) (local.get $th))))))
            (local.set $j (i32.add (local.get $j) (i32.const 2)))
            (br $pairs)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; GELU's backward over elements start .. end−1 of contiguous buffers (train/layers.ts):
  ;;   slope = 0.5·(1 + t) + (((0.5·x)·(1 − t·t))·√(2/π))·(1 + (3·0.044715·x)·x),  t = tanhU (float32)
  ;;   dx = fl(dy·slope)   (dx may be dy)
  (func (export "geluBackward") (param $dy i32) (param $x i32) (param $tanhU i32) (param $dx i32) (param $start i32) (param $end i32)
    (local $k i32) (local $at i32) (local $pair i32) (local $v v128) (local $t v128) (local $g v128) (local $out v128)
    (local.set $k (local.get $start))
    (block $done
      (loop $pairs
        (br_if $done (i32.ge_u (local.get $k) (local.get $end)))
        (local.set $at (i32.shl (local.get $k) (i32.const 2)))
        (local.set $pair (i32.ge_u (i32.sub (local.get $end) (local.get $k)) (i32.const 2)))
        (if (local.get $pair)
          (then
            (local.set $g (v128.load64_zero (i32.add (local.get $dy) (local.get $at))))
            (local.set $v (v128.load64_zero (i32.add (local.get $x) (local.get $at))))
            (local.set $t (v128.load64_zero (i32.add (local.get $tanhU) (local.get $at)))))
          (else
            (local.set $g (v128.load32_zero (i32.add (local.get $dy) (local.get $at))))
            (local.set $v (v128.load32_zero (i32.add (local.get $x) (local.get $at))))
            (local.set $t (v128.load32_zero (i32.add (local.get $tanhU) (local.get $at))))))
        (local.set $g (f64x2.promote_low_f32x4 (local.get $g)))
        (local.set $v (f64x2.promote_low_f32x4 (local.get $v)))
        (local.set $t (f64x2.promote_low_f32x4 (local.get $t)))
        (local.set $out (f32x4.demote_f64x2_zero (f64x2.mul (local.get $g)
          (f64x2.add
            (f64x2.mul (f64x2.splat (f64.const 0.5)) (f64x2.add (f64x2.splat (f64.const 1)) (local.get $t)))
            (f64x2.mul
              (f64x2.mul
                (f64x2.mul (f64x2.mul (f64x2.splat (f64.const 0.5)) (local.get $v))
                  (f64x2.sub (f64x2.splat (f64.const 1)) (f64x2.mul (local.get $t) (local.get $t))))
                (f64x2.splat (f64.const 0x1.9884533d43651p-1)))
              (f64x2.add (f64x2.splat (f64.const 1))
                (f64x2.mul (f64x2.mul (f64x2.splat (f64.const 0x1.12ba9d1f60179p-3)) (local.get $v)) (local.get $v))))))))
        (if (local.get $pair)
          (then (v128.store64_lane 0 (i32.add (local.get $dx) (local.get $at)) (local.get $out)))
          (else (v128.store32_lane 0 (i32.add (local.get $dx) (local.get $at)) (local.get $out))))
        (local.set $k (i32.add (local.get $k) (i32.const 2)))
        (br $pairs))))

  ;; ---------------------------------------------------------------------------------------------
  ;; out = fl(a + b) over elements start .. end−1 of contiguous buffers (out may be a or b): the
  ;; residual stream's shortcut, each sum rounded once as torch's float32 add (and as JavaScript's
  ;; double sum stored into a Float32Array: a sum of two floats rounded to double and then to
  ;; float is the float sum). Four at a time, the last one to three one by one.
  (func (export "add") (param $a i32) (param $b i32) (param $out i32) (param $start i32) (param $end i32)
    (local $at i32) (local $stop i32)
    (local.set $at (i32.shl (local.get $start) (i32.const 2)))
    (local.set $stop (i32.shl (i32.add (local.get $start) (i32.and (i32.sub (local.get $end) (local.get $start)) (i32.const -4))) (i32.const 2)))
    (block $quadsDone
      (loop $quads
        (br_if $quadsDone (i32.ge_u (local.get $at) (local.get $stop)))
        (v128.store (i32.add (local.get $out) (local.get $at))
          (f32x4.add (v128.load (i32.add (local.get $a) (local.get $at))) (v128.load (i32.add (local.get $b) (local.get $at)))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $quads)))
    (local.set $stop (i32.shl (local.get $end) (i32.const 2)))
    (block $done
      (loop $ones
        (br_if $done (i32.ge_u (local.get $at) (local.get $stop)))
        (f32.store (i32.add (local.get $out) (local.get $at))
          (f32.add (f32.load (i32.add (local.get $a) (local.get $at))) (f32.load (i32.add (local.get $b) (local.get $at)))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br $ones))))

  ;; ---------------------------------------------------------------------------------------------
  ;; c[i][j] = fl(c[i][j] + bias[j]) for rows × cols of c (row stride ldc): nn.Linear's bias.
  (func (export "addBias") (param $c i32) (param $ldc i32) (param $rows i32) (param $cols i32) (param $bias i32)
    (local $i i32) (local $j i32) (local $row i32) (local $at i32)
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $row (i32.add (local.get $c) (i32.shl (i32.mul (local.get $i) (local.get $ldc)) (i32.const 2))))
        (local.set $j (i32.const 0))
        (block $quadsDone
          (loop $quads
            (br_if $quadsDone (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $cols)))
            (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
            (v128.store (local.get $at) (f32x4.add (v128.load (local.get $at))
              (v128.load (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $quads)))
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
            (f32.store (local.get $at) (f32.add (f32.load (local.get $at))
              (f32.load (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; sums (cols float64, 8-byte aligned) = column sums of src (rows × cols, row stride ld), each
  ;; column added in double in increasing row: a bias's gradient, Σ_rows dy.
  (func (export "columnSums") (param $src i32) (param $ld i32) (param $rows i32) (param $cols i32) (param $sums i32)
    (local $i i32) (local $j i32) (local $row i32) (local $at i32)
    (memory.fill (local.get $sums) (i32.const 0) (i32.shl (local.get $cols) (i32.const 3)))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $row (i32.add (local.get $src) (i32.shl (i32.mul (local.get $i) (local.get $ld)) (i32.const 2))))
        (local.set $j (i32.const 0))
        (block $pairsDone
          (loop $pairs
            (br_if $pairsDone (i32.gt_u (i32.add (local.get $j) (i32.const 2)) (local.get $cols)))
            (local.set $at (i32.add (local.get $sums) (i32.shl (local.get $j) (i32.const 3))))
            (v128.store (local.get $at) (f64x2.add (v128.load (local.get $at))
              (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 2)))
            (br $pairs)))
        (if (i32.lt_u (local.get $j) (local.get $cols))
          (then
            (local.set $at (i32.add (local.get $sums) (i32.shl (local.get $j) (i32.const 3))))
            (f64.store (local.get $at) (f64.add (f64.load (local.get $at))
              (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; ---------------------------------------------------------------------------------------------
  ;; Layer norm (layers/layerNorm.ts) of rows rowStart .. rowEnd−1 of x (rows of cols, contiguous)
  ;; into out (may be x):
  ;;   μ = fl(Σx / cols), σ² = fl(Σ(x − Σx/cols)² / cols), the sums in double in increasing column
  ;;   (one running sum each, as tensor.ts's rowMean and rowVariance take them: bit for bit),
  ;;   std = fl(√fl(σ² + ε)),  out = fl(fl(scale·fl(fl(x − μ)/std)) + shift), four lanes at a time.
  ;; mean and variance (rows float32) receive μ and σ².
  (func (export "layerNorm")
    (param $x i32) (param $out i32) (param $scale i32) (param $shift i32) (param $mean i32) (param $variance i32)
    (param $cols i32) (param $eps f32) (param $rowStart i32) (param $rowEnd i32)
    (local $i i32) (local $j i32) (local $row i32) (local $at i32) (local $sum f64) (local $squares f64) (local $mu f64)
    (local $centred f64) (local $mu32 v128) (local $std v128) (local $muF f32) (local $stdF f32)
    (local.set $i (local.get $rowStart))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rowEnd)))
        (local.set $row (i32.shl (i32.mul (local.get $i) (local.get $cols)) (i32.const 2)))
        (local.set $sum (f64.const 0))
        (local.set $j (i32.const 0))
        (block $sumDone
          (loop $sumLoop
            (br_if $sumDone (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $sum (f64.add (local.get $sum)
              (f64.promote_f32 (f32.load (i32.add (i32.add (local.get $x) (local.get $row)) (i32.shl (local.get $j) (i32.const 2)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $sumLoop)))
        (local.set $mu (f64.div (local.get $sum) (f64.convert_i32_u (local.get $cols))))
        (local.set $squares (f64.const 0))
        (local.set $j (i32.const 0))
        (block $squaresDone
          (loop $squaresLoop
            (br_if $squaresDone (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $centred (f64.sub
              (f64.promote_f32 (f32.load (i32.add (i32.add (local.get $x) (local.get $row)) (i32.shl (local.get $j) (i32.const 2)))))
              (local.get $mu)))
            (local.set $squares (f64.add (local.get $squares) (f64.mul (local.get $centred) (local.get $centred))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $squaresLoop)))
        (local.set $muF (f32.demote_f64 (local.get $mu)))
        (f32.store (i32.add (local.get $mean) (i32.shl (local.get $i) (i32.const 2))) (local.get $muF))
        (local.set $stdF (f32.demote_f64 (f64.div (local.get $squares) (f64.convert_i32_u (local.get $cols)))))
        (f32.store (i32.add (local.get $variance) (i32.shl (local.get $i) (i32.const 2))) (local.get $stdF))
        (local.set $stdF (f32.sqrt (f32.add (local.get $stdF) (local.get $eps))))
        (local.set $mu32 (f32x4.splat (local.get $muF)))
        (local.set $std (f32x4.splat (local.get $stdF)))
        (local.set $j (i32.const 0))
        (block $quadsDone
          (loop $quads
            (br_if $quadsDone (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $cols)))
            (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
            (v128.store (i32.add (local.get $out) (local.get $at))
              (f32x4.add
                (f32x4.mul (v128.load (i32.add (local.get $scale) (i32.shl (local.get $j) (i32.const 2))))
                  (f32x4.div (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $at))) (local.get $mu32)) (local.get $std)))
                (v128.load (i32.add (local.get $shift) (i32.shl (local.get $j) (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $quads)))
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
            (f32.store (i32.add (local.get $out) (local.get $at))
              (f32.add
                (f32.mul (f32.load (i32.add (local.get $scale) (i32.shl (local.get $j) (i32.const 2))))
                  (f32.div (f32.sub (f32.load (i32.add (local.get $x) (local.get $at))) (local.get $muF)) (local.get $stdF)))
                (f32.load (i32.add (local.get $shift) (i32.shl (local.get $j) (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; ---------------------------------------------------------------------------------------------
  ;; Layer norm's backward (train/layers.ts) over rows × cols, all contiguous; mean, variance (rows
  ;; float32) as the forward returned them, eps = fl(ε) in double:
  ;;   rstd = 1/√(σ² + ε),  x̂ = (x − μ)·rstd,  dx̂ = dy·scale
  ;;   dx = fl(dx + ((dx̂ − mean(dx̂)) − x̂·mean(dx̂·x̂))·rstd)   (accumulated into dx)
  ;;   scaleSums += dy·x̂, shiftSums += dy   (cols float64 each, 8-byte aligned, column by column
  ;;   in increasing row, as the JavaScript did)
  ;; The two means are sums over the row: here even and odd columns are summed apart and the two
  ;; added at the end, so they differ from one running sum in double's last bits only.
  (func (export "layerNormBackward")
    (param $x i32) (param $dy i32) (param $dx i32) (param $mean i32) (param $variance i32) (param $scale i32)
    (param $scaleSums i32) (param $shiftSums i32) (param $rows i32) (param $cols i32) (param $eps f64)
    (local $i i32) (local $j i32) (local $row i32) (local $at i32) (local $at8 i32) (local $pair i32)
    (local $mu v128) (local $rstd v128) (local $normed v128) (local $g v128) (local $dnorm v128)
    (local $sumD v128) (local $sumDN v128) (local $meanD v128) (local $meanDN v128) (local $count f64)
    (memory.fill (local.get $scaleSums) (i32.const 0) (i32.shl (local.get $cols) (i32.const 3)))
    (memory.fill (local.get $shiftSums) (i32.const 0) (i32.shl (local.get $cols) (i32.const 3)))
    (local.set $count (f64.convert_i32_u (local.get $cols)))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $row (i32.shl (i32.mul (local.get $i) (local.get $cols)) (i32.const 2)))
        (local.set $mu (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $mean) (i32.shl (local.get $i) (i32.const 2)))))))
        (local.set $rstd (f64x2.splat (f64.div (f64.const 1) (f64.sqrt (f64.add
          (f64.promote_f32 (f32.load (i32.add (local.get $variance) (i32.shl (local.get $i) (i32.const 2)))))
          (local.get $eps))))))
        (local.set $sumD (f64x2.splat (f64.const 0)))
        (local.set $sumDN (f64x2.splat (f64.const 0)))
        ;; first pass: the two sums of the row, and the parameters' sums (the last odd column's
        ;; other lane reads zeros: it adds 0 to the row sums and is not stored)
        (local.set $j (i32.const 0))
        (block $firstDone
          (loop $first
            (br_if $firstDone (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $pair (i32.ge_u (i32.sub (local.get $cols) (local.get $j)) (i32.const 2)))
            (if (local.get $pair)
              (then
                (local.set $normed (v128.load64_zero (i32.add (local.get $x) (local.get $at))))
                (local.set $g (v128.load64_zero (i32.add (local.get $dy) (local.get $at))))
                (local.set $dnorm (v128.load64_zero (i32.add (local.get $scale) (i32.shl (local.get $j) (i32.const 2))))))
              (else
                (local.set $normed (v128.load32_zero (i32.add (local.get $x) (local.get $at))))
                (local.set $g (v128.load32_zero (i32.add (local.get $dy) (local.get $at))))
                (local.set $dnorm (v128.load32_zero (i32.add (local.get $scale) (i32.shl (local.get $j) (i32.const 2)))))))
            (local.set $normed (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (local.get $normed)) (local.get $mu)) (local.get $rstd)))
            (local.set $g (f64x2.promote_low_f32x4 (local.get $g)))
            (local.set $dnorm (f64x2.mul (local.get $g) (f64x2.promote_low_f32x4 (local.get $dnorm))))
            (local.set $sumD (f64x2.add (local.get $sumD) (local.get $dnorm)))
            (local.set $sumDN (f64x2.add (local.get $sumDN) (f64x2.mul (local.get $dnorm) (local.get $normed))))
            (local.set $at8 (i32.shl (local.get $j) (i32.const 3)))
            (if (local.get $pair)
              (then
                (v128.store (i32.add (local.get $scaleSums) (local.get $at8))
                  (f64x2.add (v128.load (i32.add (local.get $scaleSums) (local.get $at8))) (f64x2.mul (local.get $g) (local.get $normed))))
                (v128.store (i32.add (local.get $shiftSums) (local.get $at8))
                  (f64x2.add (v128.load (i32.add (local.get $shiftSums) (local.get $at8))) (local.get $g))))
              (else
                (f64.store (i32.add (local.get $scaleSums) (local.get $at8))
                  (f64.add (f64.load (i32.add (local.get $scaleSums) (local.get $at8)))
                    (f64.mul (f64x2.extract_lane 0 (local.get $g)) (f64x2.extract_lane 0 (local.get $normed)))))
                (f64.store (i32.add (local.get $shiftSums) (local.get $at8))
                  (f64.add (f64.load (i32.add (local.get $shiftSums) (local.get $at8))) (f64x2.extract_lane 0 (local.get $g))))))
            (local.set $j (i32.add (local.get $j) (i32.const 2)))
            (br $first)))
        (local.set $meanD (f64x2.splat (f64.div
          (f64.add (f64x2.extract_lane 0 (local.get $sumD)) (f64x2.extract_lane 1 (local.get $sumD))) (local.get $count))))
        (local.set $meanDN (f64x2.splat (f64.div
          (f64.add (f64x2.extract_lane 0 (local.get $sumDN)) (f64x2.extract_lane 1 (local.get $sumDN))) (local.get $count))))
        ;; second pass: dx += ((dx̂ − mean dx̂) − x̂·mean(dx̂·x̂))·rstd
        (local.set $j (i32.const 0))
        (block $secondDone
          (loop $second
            (br_if $secondDone (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $pair (i32.ge_u (i32.sub (local.get $cols) (local.get $j)) (i32.const 2)))
            (if (local.get $pair)
              (then
                (local.set $normed (v128.load64_zero (i32.add (local.get $x) (local.get $at))))
                (local.set $g (v128.load64_zero (i32.add (local.get $dy) (local.get $at))))
                (local.set $dnorm (v128.load64_zero (i32.add (local.get $scale) (i32.shl (local.get $j) (i32.const 2))))))
              (else
                (local.set $normed (v128.load32_zero (i32.add (local.get $x) (local.get $at))))
                (local.set $g (v128.load32_zero (i32.add (local.get $dy) (local.get $at))))
                (local.set $dnorm (v128.load32_zero (i32.add (local.get $scale) (i32.shl (local.get $j) (i32.const 2)))))))
            (local.set $normed (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (local.get $normed)) (local.get $mu)) (local.get $rstd)))
            (local.set $dnorm (f64x2.mul (f64x2.promote_low_f32x4 (local.get $g)) (f64x2.promote_low_f32x4 (local.get $dnorm))))
            ;; reuse $g for dx
            (if (local.get $pair)
              (then (local.set $g (v128.load64_zero (i32.add (local.get $dx) (local.get $at)))))
              (else (local.set $g (v128.load32_zero (i32.add (local.get $dx) (local.get $at))))))
            (local.set $g (f32x4.demote_f64x2_zero (f64x2.add (f64x2.promote_low_f32x4 (local.get $g))
              (f64x2.mul
                (f64x2.sub (f64x2.sub (local.get $dnorm) (local.get $meanD)) (f64x2.mul (local.get $normed) (local.get $meanDN)))
                (local.get $rstd)))))
            (if (local.get $pair)
              (then (v128.store64_lane 0 (i32.add (local.get $dx) (local.get $at)) (local.get $g)))
              (else (v128.store32_lane 0 (i32.add (local.get $dx) (local.get $at)) (local.get $g))))
            (local.set $j (i32.add (local.get $j) (i32.const 2)))
            (br $second)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; ---------------------------------------------------------------------------------------------
  ;; dst (cols, rows) = srcᵀ for src (rows, cols), row strides lds and ldd: 4 × 4 blocks through registers
  ;; (four row vectors in, four column vectors out by two rounds of shuffles), the edges one float
  ;; at a time. A weight's gradient dW = dyᵀ·x needs dy transposed as the product's A.
  ;; In strips of 16 columns: down a strip every source line is read whole once and the 16
  ;; destination rows are written front to back. Across all columns at once, a (1,024, 768)
  ;; transpose ran at 3.6 GB/s: its 768 destination rows are 4 KB apart, so the lines being filled
  ;; fall into a few cache sets and evict each other.
  (func (export "transpose") (param $src i32) (param $lds i32) (param $dst i32) (param $ldd i32) (param $rows i32) (param $cols i32)
    (local $i i32) (local $j i32) (local $strip i32) (local $stripEnd i32) (local $from i32) (local $to i32) (local $rowBytes i32) (local $colBytes i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rowBytes (i32.shl (local.get $lds) (i32.const 2)))
    (local.set $colBytes (i32.shl (local.get $ldd) (i32.const 2)))
    (block $stripsDone
      (loop $strips
        (br_if $stripsDone (i32.ge_u (local.get $strip) (local.get $cols)))
        (local.set $stripEnd (i32.add (local.get $strip) (i32.const 16)))
        (if (i32.gt_u (local.get $stripEnd) (local.get $cols)) (then (local.set $stripEnd (local.get $cols))))
        (local.set $i (i32.const 0))
        (block $blockRowsDone
          (loop $blockRows
            (br_if $blockRowsDone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $rows)))
            (local.set $j (local.get $strip))
            (block $blockColsDone
              (loop $blockCols
                (br_if $blockColsDone (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $stripEnd)))
                (local.set $from (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $lds)) (local.get $j)) (i32.const 2))))
                (local.set $r0 (v128.load (local.get $from)))
                (local.set $r1 (v128.load (i32.add (local.get $from) (local.get $rowBytes))))
                (local.set $r2 (v128.load (i32.add (local.get $from) (i32.shl (local.get $rowBytes) (i32.const 1)))))
                (local.set $r3 (v128.load (i32.add (local.get $from) (i32.mul (local.get $rowBytes) (i32.const 3)))))
                ;; (a0 b0 a1 b1), (a2 b2 a3 b3), (c0 d0 c1 d1), (c2 d2 c3 d3)
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
                (local.set $to (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $ldd)) (local.get $i)) (i32.const 2))))
                (v128.store (local.get $to) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (v128.store (i32.add (local.get $to) (local.get $colBytes))
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                (v128.store (i32.add (local.get $to) (i32.shl (local.get $colBytes) (i32.const 1)))
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (v128.store (i32.add (local.get $to) (i32.mul (local.get $colBytes) (i32.const 3)))
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $blockCols)))
            ;; the strip's last columns mod 4, for these four rows
            (block $edgeDone
              (loop $edge
                (br_if $edgeDone (i32.ge_u (local.get $j) (local.get $stripEnd)))
                (call $transposeColumn (local.get $src) (local.get $lds) (local.get $dst) (local.get $ldd) (local.get $i) (i32.add (local.get $i) (i32.const 4)) (local.get $j))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $edge)))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $blockRows)))
        ;; the last rows mod 4 rows of the strip
        (local.set $j (local.get $strip))
        (block $lastDone
          (loop $last
            (br_if $lastDone (i32.ge_u (local.get $j) (local.get $stripEnd)))
            (call $transposeColumn (local.get $src) (local.get $lds) (local.get $dst) (local.get $ldd) (local.get $i) (local.get $rows) (local.get $j))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $last)))
        (local.set $strip (local.get $stripEnd))
        (br $strips))))

  ;; dst[j][i] = src[i][j] for i = from .. to−1: transpose's edges.
  (func $transposeColumn (param $src i32) (param $lds i32) (param $dst i32) (param $ldd i32) (param $from i32) (param $to i32) (param $j i32)
    (local $i i32)
    (local.set $i (local.get $from))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $to)))
        (f32.store (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $ldd)) (local.get $i)) (i32.const 2)))
          (f32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $lds)) (local.get $j)) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each))))

  ;; ---------------------------------------------------------------------------------------------
  ;; AdamW's update of elements start .. end−1 (train/adamw.ts, which gives the formula and why
  ;; each rounding is where it is), in place on θ, m and v; g the gradient; c the address of eight
  ;; float64 constants: decay, β₁, β₂, 1 − β₁, 1 − β₂, √(1 − β₂ᵗ), −lr/(1 − β₁ᵗ), ε (each a float32
  ;; value, as torch's kernels take them).
  ;;   m = fl(m·β₁ + g·(1 − β₁)),  v = fl(v·β₂ + (g·(1 − β₂))·g)
  ;;   θ = fl(fl(θ·decay) + (−step·m)/(√v/√(1 − β₂ᵗ) + ε))
  (func (export "adamw") (param $theta i32) (param $g i32) (param $m i32) (param $v i32) (param $c i32) (param $start i32) (param $end i32)
    (local $k i32) (local $at i32) (local $pair i32) (local $gk v128) (local $mk v128) (local $vk v128) (local $th v128)
    (local $decay v128) (local $beta1 v128) (local $beta2 v128) (local $oneMinusBeta1 v128) (local $oneMinusBeta2 v128)
    (local $bias2Sqrt v128) (local $negStep v128) (local $eps v128)
    (local.set $decay (v128.load64_splat (local.get $c)))
    (local.set $beta1 (v128.load64_splat offset=8 (local.get $c)))
    (local.set $beta2 (v128.load64_splat offset=16 (local.get $c)))
    (local.set $oneMinusBeta1 (v128.load64_splat offset=24 (local.get $c)))
    (local.set $oneMinusBeta2 (v128.load64_splat offset=32 (local.get $c)))
    (local.set $bias2Sqrt (v128.load64_splat offset=40 (local.get $c)))
    (local.set $negStep (v128.load64_splat offset=48 (local.get $c)))
    (local.set $eps (v128.load64_splat offset=56 (local.get $c)))
    (local.set $k (local.get $start))
    (block $done
      (loop $pairs
        (br_if $done (i32.ge_u (local.get $k) (local.get $end)))
        (local.set $at (i32.shl (local.get $k) (i32.const 2)))
        (local.set $pair (i32.ge_u (i32.sub (local.get $end) (local.get $k)) (i32.const 2)))
        (if (local.get $pair)
          (then
            (local.set $gk (v128.load64_zero (i32.add (local.get $g) (local.get $at))))
            (local.set $mk (v128.load64_zero (i32.add (local.get $m) (local.get $at))))
            (local.set $vk (v128.load64_zero (i32.add (local.get $v) (local.get $at))))
            (local.set $th (v128.load64_zero (i32.add (local.get $theta) (local.get $at)))))
          (else
            (local.set $gk (v128.load32_zero (i32.add (local.get $g) (local.get $at))))
            (local.set $mk (v128.load32_zero (i32.add (local.get $m) (local.get $at))))
            (local.set $vk (v128.load32_zero (i32.add (local.get $v) (local.get $at))))
            (local.set $th (v128.load32_zero (i32.add (local.get $theta) (local.get $at))))))
        (local.set $gk (f64x2.promote_low_f32x4 (local.get $gk)))
        ;; m and v rounded to float32 as stored, and read back as stored
        (local.set $mk (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero (f64x2.add
          (f64x2.mul (f64x2.promote_low_f32x4 (local.get $mk)) (local.get $beta1))
          (f64x2.mul (local.get $gk) (local.get $oneMinusBeta1))))))
        (local.set $vk (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero (f64x2.add
          (f64x2.mul (f64x2.promote_low_f32x4 (local.get $vk)) (local.get $beta2))
          (f64x2.mul (f64x2.mul (local.get $gk) (local.get $oneMinusBeta2)) (local.get $gk))))))
        (local.set $th (f32x4.demote_f64x2_zero (f64x2.add
          (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.promote_low_f32x4 (local.get $th)) (local.get $decay))))
          (f64x2.div (f64x2.mul (local.get $negStep) (local.get $mk))
            (f64x2.add (f64x2.div (f64x2.sqrt (local.get $vk)) (local.get $bias2Sqrt)) (local.get $eps))))))
        (local.set $mk (f32x4.demote_f64x2_zero (local.get $mk)))
        (local.set $vk (f32x4.demote_f64x2_zero (local.get $vk)))
        (if (local.get $pair)
          (then
            (v128.store64_lane 0 (i32.add (local.get $theta) (local.get $at)) (local.get $th))
            (v128.store64_lane 0 (i32.add (local.get $m) (local.get $at)) (local.get $mk))
            (v128.store64_lane 0 (i32.add (local.get $v) (local.get $at)) (local.get $vk)))
          (else
            (v128.store32_lane 0 (i32.add (local.get $theta) (local.get $at)) (local.get $th))
            (v128.store32_lane 0 (i32.add (local.get $m) (local.get $at)) (local.get $mk))
            (v128.store32_lane 0 (i32.add (local.get $v) (local.get $at)) (local.get $vk))))
        (local.set $k (i32.add (local.get $k) (i32.const 2)))
        (br $pairs))))
