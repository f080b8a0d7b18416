;; The engine's matrix product in WebAssembly SIMD (128-bit registers, 4 float32 lanes).
;; Source of src/engine/kernelsWasm.ts: rebuild with `npm run build:kernels --prefix bench`
;; (wat2wasm from the `wabt` npm package); a unit test checks that the two match.
;;
;; gemm computes rows rowStart .. rowEnd−1 of C = A · B for
;;   A (n, k) float32 row-major, row stride k;
;;   B packed in column panels of 8: panel p holds B[t][8p .. 8p+7] for t = 0 .. k−1, i.e.
;;     k·8 consecutive float32 (columns past m are zeros);
;;   C (n, ldc) float32 row-major with ldc = 8·panels, so every panel stores whole.
;; Each C element is Σ_t fl(A[i][t]·B[t][j]) summed in float32 in increasing t, starting from 0
;; (float32 products and sums as a float32 BLAS, without fused multiply-add), whichever block
;; computes it; blocks of 6 rows start at multiples of 6 from row 0, so a caller that splits rows
;; at multiples of 6 gets bit-for-bit the same numbers.
;;   lowerOutput: only panels that hold a column j <= the block's last row are computed (Q·Kᵀ,
;;     whose upper triangle is masked anyway); the caller keeps j <= i.
;;   lowerInput: A is lower-triangular (A[i][t] = 0 for t > i): t stops after the block's last
;;     row (attention weights · V). Skipped terms are exact zeros, which add nothing.
(module
  (import "env" "memory" (memory 1 16384 shared))

  ;; 6 rows × 8 columns: twelve accumulators, two B vectors and one broadcast A value fit the
  ;; sixteen 128-bit registers of x64.
  (func $tile6x8 (param $a i32) (param $lda i32) (param $b i32) (param $c i32) (param $ldc i32) (param $tEnd i32)
    (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $a4 i32) (local $a5 i32)
    (local $o i32) (local $oEnd i32) (local $x v128) (local $b0 v128) (local $b1 v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128)
    (local $c30 v128) (local $c31 v128) (local $c40 v128) (local $c41 v128) (local $c50 v128) (local $c51 v128)
    (local.set $a1 (i32.add (local.get $a) (local.get $lda)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $lda)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $lda)))
    (local.set $a4 (i32.add (local.get $a3) (local.get $lda)))
    (local.set $a5 (i32.add (local.get $a4) (local.get $lda)))
    (local.set $oEnd (i32.shl (local.get $tEnd) (i32.const 2)))
    (block $done
      (br_if $done (i32.eqz (local.get $tEnd)))
      (loop $t
        (local.set $b0 (v128.load (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $x (v128.load32_splat (i32.add (local.get $a) (local.get $o))))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (i32.add (local.get $a1) (local.get $o))))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (i32.add (local.get $a2) (local.get $o))))
        (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (i32.add (local.get $a3) (local.get $o))))
        (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (i32.add (local.get $a4) (local.get $o))))
        (local.set $c40 (f32x4.add (local.get $c40) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c41 (f32x4.add (local.get $c41) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (i32.add (local.get $a5) (local.get $o))))
        (local.set $c50 (f32x4.add (local.get $c50) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c51 (f32x4.add (local.get $c51) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $b (i32.add (local.get $b) (i32.const 32)))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br_if $t (i32.lt_u (local.get $o) (local.get $oEnd)))))
    (v128.store (local.get $c) (local.get $c00))
    (v128.store offset=16 (local.get $c) (local.get $c01))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $c10))
    (v128.store offset=16 (local.get $c) (local.get $c11))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $c20))
    (v128.store offset=16 (local.get $c) (local.get $c21))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $c30))
    (v128.store offset=16 (local.get $c) (local.get $c31))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $c40))
    (v128.store offset=16 (local.get $c) (local.get $c41))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $c50))
    (v128.store offset=16 (local.get $c) (local.get $c51)))

  ;; 1 row × 8 columns, for the last n mod 6 rows; same sum per element as tile6x8.
  (func $tile1x8 (param $a i32) (param $b i32) (param $c i32) (param $tEnd i32)
    (local $o i32) (local $oEnd i32) (local $x v128) (local $c0 v128) (local $c1 v128)
    (local.set $oEnd (i32.shl (local.get $tEnd) (i32.const 2)))
    (block $done
      (br_if $done (i32.eqz (local.get $tEnd)))
      (loop $t
        (local.set $x (v128.load32_splat (i32.add (local.get $a) (local.get $o))))
        (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $x) (v128.load (local.get $b)))))
        (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $x) (v128.load offset=16 (local.get $b)))))
        (local.set $b (i32.add (local.get $b) (i32.const 32)))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br_if $t (i32.lt_u (local.get $o) (local.get $oEnd)))))
    (v128.store (local.get $c) (local.get $c0))
    (v128.store offset=16 (local.get $c) (local.get $c1)))

  ;; Byte addresses a, b, c; sizes in elements. See the header for the layouts and flags.
  (func (export "gemm")
    (param $a i32) (param $b i32) (param $c i32) (param $rowStart i32) (param $rowEnd i32)
    (param $panels i32) (param $k i32) (param $lowerOutput i32) (param $lowerInput i32)
    (local $i i32) (local $p i32) (local $pEnd i32) (local $tEnd i32) (local $last i32)
    (local $lda i32) (local $ldc i32) (local $panelBytes i32) (local $aRow i32) (local $cRow i32)
    (local.set $lda (i32.shl (local.get $k) (i32.const 2)))
    (local.set $ldc (i32.shl (local.get $panels) (i32.const 5)))
    (local.set $panelBytes (i32.shl (local.get $k) (i32.const 5)))
    (local.set $i (local.get $rowStart))
    ;; blocks of 6 rows, then single rows; `last` is the block's last row
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rowEnd)))
        (local.set $last
          (select (i32.add (local.get $i) (i32.const 5)) (local.get $i)
            (i32.le_u (i32.add (local.get $i) (i32.const 6)) (local.get $rowEnd))))
        (local.set $tEnd (local.get $k))
        (if (local.get $lowerInput)
          (then (if (i32.lt_u (i32.add (local.get $last) (i32.const 1)) (local.get $k))
            (then (local.set $tEnd (i32.add (local.get $last) (i32.const 1)))))))
        (local.set $pEnd (local.get $panels))
        (if (local.get $lowerOutput)
          (then (if (i32.lt_u (i32.add (i32.shr_u (local.get $last) (i32.const 3)) (i32.const 1)) (local.get $panels))
            (then (local.set $pEnd (i32.add (i32.shr_u (local.get $last) (i32.const 3)) (i32.const 1)))))))
        (local.set $aRow (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $lda))))
        (local.set $cRow (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc))))
        (local.set $p (i32.const 0))
        (block $panelsDone
          (loop $panel
            (br_if $panelsDone (i32.ge_u (local.get $p) (local.get $pEnd)))
            (if (i32.eq (local.get $last) (local.get $i))
              (then
                (call $tile1x8 (local.get $aRow)
                  (i32.add (local.get $b) (i32.mul (local.get $p) (local.get $panelBytes)))
                  (i32.add (local.get $cRow) (i32.shl (local.get $p) (i32.const 5)))
                  (local.get $tEnd)))
              (else
                (call $tile6x8 (local.get $aRow) (local.get $lda)
                  (i32.add (local.get $b) (i32.mul (local.get $p) (local.get $panelBytes)))
                  (i32.add (local.get $cRow) (i32.shl (local.get $p) (i32.const 5)))
                  (local.get $ldc) (local.get $tEnd))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $panel)))
        (local.set $i (i32.add (local.get $last) (i32.const 1)))
        (br $rows))))
)
