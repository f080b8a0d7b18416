;; The engine's matrix product in WebAssembly SIMD (128-bit registers, 4 float32 lanes).
;; Source of src/engine/kernels/wasm.ts: rebuild with `npm run build:kernels --prefix bench`
;; (wat2wasm from the `wabt` npm package); a unit test checks that the two match.
;;
;; gemm computes rows rowStart .. rowEnd−1 of C = A · B for
;;   A (n, k) float32 row-major, row stride lda >= k (elements);
;;   B packed in column panels of 8: panel p holds B[t][8p .. 8p+7] for t = 0 .. k−1, i.e.
;;     k·8 consecutive float32 (columns past m are zeros);
;;   C (n, ·) float32 row-major, row stride ldc (elements); every panel stores whole, 8 columns,
;;     so a row's last panel writes up to 8·panels − 1 columns past the row's start.
;; Each C element is Σ_t fl(A[i][t]·B[t][j]) summed in float32 in increasing t, starting from 0
;; (float32 products and sums as a float32 BLAS, without fused multiply-add), whichever block
;; computes it; blocks of 5 rows start at multiples of 5 from row 0, so a caller that splits rows
;; at multiples of 5 gets bit-for-bit the same numbers. bench/build-kernels.mjs also assembles a
;; relaxed variant whose tiles fuse each multiply-add (f32x4.relaxed_madd: fl(c + a·b), one
;; rounding, where the CPU has FMA): the same order and splits, so it too is the same on any
;; number of threads, and its sums differ from these in the last bits only.
;;   lowerOutput: only panels that hold a column j <= the block's last row are computed (Q·Kᵀ,
;;     whose upper triangle is masked anyway); the caller keeps j <= i.
;;   lowerInput: A is lower-triangular (A[i][t] = 0 for t > i): t stops after the block's last
;;     row (attention weights · V). Skipped terms are exact zeros, which add nothing.
;; The layers' elementwise work is in rows.wat, assembled into this module where ";; rows.wat" stands.
(module
  (import "env" "memory" (memory 1 32768 shared))
  ;; Math.tanh, for the rare GELU inputs outside fastTanh's range (rows.wat)
  (import "env" "tanh" (func $tanh (param f64) (result f64)))

  ;; 5 rows × 8 columns: ten accumulators, two B vectors and one broadcast A value. Measured on one
  ;; thread, (420, 768)·(768, 768) ran at 27 GFLOP/s with 6 rows, 50 with 5 (39 with 3, 43 with 4,
  ;; 32 with 7): most likely a 6-row block's fifteen live vectors spill, V8 keeping some of x64's
  ;; sixteen xmm registers as scratch (not checked in V8's generated code).
  ;;
  ;; $rows (2 to 5) of the block are real: the others read the last real row again and are not
  ;; stored. The last n mod 5 rows of a product thus take one pass over B, not one pass per row
  ;; (at T = 24, four single-row passes over every weight were a fifth of a GPT forward's time).
  (func $tile5x8 (param $a i32) (param $lda i32) (param $b i32) (param $c i32) (param $ldc i32) (param $tEnd i32) (param $rows i32)
    (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $a4 i32)
    (local $o i32) (local $oEnd i32) (local $x v128) (local $b0 v128) (local $b1 v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128)
    (local $c30 v128) (local $c31 v128) (local $c40 v128) (local $c41 v128)
    (local.set $a1 (i32.add (local.get $a) (local.get $lda)))
    (local.set $a2 (select (i32.add (local.get $a1) (local.get $lda)) (local.get $a1) (i32.gt_u (local.get $rows) (i32.const 2))))
    (local.set $a3 (select (i32.add (local.get $a2) (local.get $lda)) (local.get $a2) (i32.gt_u (local.get $rows) (i32.const 3))))
    (local.set $a4 (select (i32.add (local.get $a3) (local.get $lda)) (local.get $a3) (i32.gt_u (local.get $rows) (i32.const 4))))
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
        (local.set $b (i32.add (local.get $b) (i32.const 32)))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br_if $t (i32.lt_u (local.get $o) (local.get $oEnd)))))
    (v128.store (local.get $c) (local.get $c00))
    (v128.store offset=16 (local.get $c) (local.get $c01))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $c10))
    (v128.store offset=16 (local.get $c) (local.get $c11))
    (br_if 0 (i32.lt_u (local.get $rows) (i32.const 3)))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $c20))
    (v128.store offset=16 (local.get $c) (local.get $c21))
    (br_if 0 (i32.lt_u (local.get $rows) (i32.const 4)))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $c30))
    (v128.store offset=16 (local.get $c) (local.get $c31))
    (br_if 0 (i32.lt_u (local.get $rows) (i32.const 5)))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $c40))
    (v128.store offset=16 (local.get $c) (local.get $c41)))

  ;; 1 row × 8 columns, for a block of one row (a decode step's one row, where streaming B is
  ;; the whole cost); same sum per element as tile5x8.
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
  ;; When all the rows fit in 192 KB of A (60 rows at k = 768), each panel of B is read once and
  ;; serves every 5-row block from cache: block by block over all of B, a 24-token GPT forward read
  ;; every weight from memory once per 5 rows (two threads, (24, 768)·(768, 768): 55–58 → 76 GFLOP/s).
  ;; More rows go block by block (chunks of one block), the block's A rows in L1 and B streamed:
  ;; panel by panel over chunks of 60 rows and more was slower there ((2048, 768)·(768, 3072):
  ;; 84 → 71 GFLOP/s). The order of the tiles does not change any sum.
  (func (export "gemm")
    (param $a i32) (param $b i32) (param $c i32) (param $rowStart i32) (param $rowEnd i32)
    (param $panels i32) (param $k i32) (param $lowerOutput i32) (param $lowerInput i32) (param $ldaElements i32) (param $ldcElements i32)
    (local $i i32) (local $p i32) (local $pEnd i32) (local $tEnd i32) (local $last i32)
    (local $lda i32) (local $ldc i32) (local $panelBytes i32) (local $bPanel i32)
    (local $chunkRows i32) (local $chunkStart i32) (local $chunkEnd i32)
    (local.set $lda (i32.shl (local.get $ldaElements) (i32.const 2)))
    (local.set $ldc (i32.shl (local.get $ldcElements) (i32.const 2)))
    (local.set $panelBytes (i32.shl (local.get $k) (i32.const 5)))
    (local.set $chunkRows (i32.mul (i32.const 5) (i32.div_u (i32.const 49152) (i32.mul (local.get $k) (i32.const 5)))))
    (if (i32.gt_u (i32.sub (local.get $rowEnd) (local.get $rowStart)) (local.get $chunkRows)) (then (local.set $chunkRows (i32.const 5))))
    (if (i32.lt_u (local.get $chunkRows) (i32.const 5)) (then (local.set $chunkRows (i32.const 5))))
    (local.set $chunkStart (local.get $rowStart))
    (block $chunksDone
      (loop $chunks
        (br_if $chunksDone (i32.ge_u (local.get $chunkStart) (local.get $rowEnd)))
        (local.set $chunkEnd (i32.add (local.get $chunkStart) (local.get $chunkRows)))
        (if (i32.gt_u (local.get $chunkEnd) (local.get $rowEnd)) (then (local.set $chunkEnd (local.get $rowEnd))))
        ;; lowerOutput: the panels up to the chunk's last row; each block skips those past its own
        (local.set $pEnd (local.get $panels))
        (if (local.get $lowerOutput)
          (then (if (i32.lt_u (i32.add (i32.shr_u (i32.sub (local.get $chunkEnd) (i32.const 1)) (i32.const 3)) (i32.const 1)) (local.get $panels))
            (then (local.set $pEnd (i32.add (i32.shr_u (i32.sub (local.get $chunkEnd) (i32.const 1)) (i32.const 3)) (i32.const 1)))))))
        (local.set $p (i32.const 0))
        (block $panelsDone
          (loop $panel
            (br_if $panelsDone (i32.ge_u (local.get $p) (local.get $pEnd)))
            (local.set $bPanel (i32.add (local.get $b) (i32.mul (local.get $p) (local.get $panelBytes))))
            ;; blocks of 5 rows, the last one 1 to 5 rows; `last` is the block's last row
            (local.set $i (local.get $chunkStart))
            (block $rowsDone
              (loop $rows
                (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $chunkEnd)))
                (local.set $last
                  (select (i32.add (local.get $i) (i32.const 4)) (i32.sub (local.get $chunkEnd) (i32.const 1))
                    (i32.le_u (i32.add (local.get $i) (i32.const 5)) (local.get $chunkEnd))))
                (local.set $tEnd (local.get $k))
                (if (local.get $lowerInput)
                  (then (if (i32.lt_u (i32.add (local.get $last) (i32.const 1)) (local.get $k))
                    (then (local.set $tEnd (i32.add (local.get $last) (i32.const 1)))))))
                (if (i32.or (i32.eqz (local.get $lowerOutput)) (i32.le_u (local.get $p) (i32.shr_u (local.get $last) (i32.const 3))))
                  (then
                    (if (i32.eq (local.get $last) (local.get $i))
                      (then
                        (call $tile1x8 (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $lda))) (local.get $bPanel)
                          (i32.add (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc))) (i32.shl (local.get $p) (i32.const 5)))
                          (local.get $tEnd)))
                      (else
                        (call $tile5x8 (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $lda))) (local.get $lda) (local.get $bPanel)
                          (i32.add (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc))) (i32.shl (local.get $p) (i32.const 5)))
                          (local.get $ldc) (local.get $tEnd) (i32.add (i32.sub (local.get $last) (local.get $i)) (i32.const 1)))))))
                (local.set $i (i32.add (local.get $last) (i32.const 1)))
                (br $rows)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $panel)))
        (local.set $chunkStart (local.get $chunkEnd))
        (br $chunks))))

  ;; ---------------------------------------------------------------------------------------------
  ;; B (byte address src) into panels of 8 columns at dst, the layout gemm reads: panel p holds
  ;; B[t][8p .. 8p+7] for t = 0 .. k−1, zeros past column m. B is (m, k) with `transposed` (row j
  ;; is column j of the product: x·Wᵀ, Q·Kᵀ), otherwise (k, m); its rows are ld elements apart
  ;; (ld > the row's length when B is a head's columns of a wider matrix). A 768 × 768 weight, copied in and
  ;; packed here: 0.27 ms, against 0.78 ms for the same loop over typed arrays in JavaScript.
  (func (export "pack") (param $src i32) (param $dst i32) (param $m i32) (param $k i32) (param $transposed i32) (param $ld i32)
    (local $j i32) (local $from i32) (local $to i32) (local $toEnd i32) (local $tStep i32) (local $jStep i32)
    (local $tRow i32) (local $p i32) (local $panels i32) (local $panelBytes i32)
    ;; byte steps through B along t (down a column of the product's operand) and along j
    (local.set $tStep (select (i32.const 4) (i32.shl (local.get $ld) (i32.const 2)) (local.get $transposed)))
    (local.set $jStep (select (i32.shl (local.get $ld) (i32.const 2)) (i32.const 4) (local.get $transposed)))
    (if (i32.and (local.get $m) (i32.const 7))
      (then (memory.fill
        (i32.add (local.get $dst) (i32.mul (i32.shr_u (local.get $m) (i32.const 3)) (i32.shl (local.get $k) (i32.const 5))))
        (i32.const 0) (i32.shl (local.get $k) (i32.const 5)))))
    (if (i32.eqz (local.get $transposed))
      (then
        ;; B (k, m): each whole panel's row t is 8 consecutive floats of B's row t, two vectors,
        ;; written panel by panel so the stores run front to back (column by column, below, each
        ;; load is a new cache line; row by row across the panels, each store went to another
        ;; panel k·32 bytes away: (768, 768) took 0.63 ms that way, 0.17–0.19 ms this way)
        (local.set $panels (i32.shr_u (local.get $m) (i32.const 3)))
        (local.set $panelBytes (i32.shl (local.get $k) (i32.const 5)))
        (block $panelsDone
          (loop $panelsLoop
            (br_if $panelsDone (i32.ge_u (local.get $p) (local.get $panels)))
            (local.set $from (i32.add (local.get $src) (i32.shl (local.get $p) (i32.const 5))))
            (local.set $to (i32.add (local.get $dst) (i32.mul (local.get $p) (local.get $panelBytes))))
            (local.set $toEnd (i32.add (local.get $to) (local.get $panelBytes)))
            (block $tDone
              (loop $t
                (br_if $tDone (i32.ge_u (local.get $to) (local.get $toEnd)))
                (v128.store (local.get $to) (v128.load (local.get $from)))
                (v128.store offset=16 (local.get $to) (v128.load offset=16 (local.get $from)))
                (local.set $from (i32.add (local.get $from) (local.get $tStep)))
                (local.set $to (i32.add (local.get $to) (i32.const 32)))
                (br $t)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $panelsLoop)))
        ;; the last m mod 8 columns, if any, column by column as below
        (local.set $j (i32.shl (local.get $panels) (i32.const 3)))))
    (block $columnsDone
      (loop $columns
        (br_if $columnsDone (i32.ge_u (local.get $j) (local.get $m)))
        (local.set $from (i32.add (local.get $src) (i32.mul (local.get $j) (local.get $jStep))))
        ;; column j goes to lane j mod 8 of panel j / 8, one 32-byte panel row per t
        (local.set $to (i32.add (local.get $dst) (i32.add
          (i32.mul (i32.shr_u (local.get $j) (i32.const 3)) (i32.shl (local.get $k) (i32.const 5)))
          (i32.shl (i32.and (local.get $j) (i32.const 7)) (i32.const 2)))))
        (local.set $toEnd (i32.add (local.get $to) (i32.shl (local.get $k) (i32.const 5))))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_u (local.get $to) (local.get $toEnd)))
            (f32.store (local.get $to) (f32.load (local.get $from)))
            (local.set $from (i32.add (local.get $from) (local.get $tStep)))
            (local.set $to (i32.add (local.get $to) (i32.const 32)))
            (br $rows)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $columns))))

  ;; ---------------------------------------------------------------------------------------------
  ;; After a causal Q·Kᵀ and softmax in place (S with row stride ld): gemm wrote whole panels up to
  ;; each 5-row block's last row, so scores above the diagonal inside a block are still there, and
  ;; weights·V (lowerInput) reads each row up to its block's end. Zeroes S[i][i+1 .. blockEnd−1].
  (func (export "clearBlockUpper") (param $s i32) (param $rows i32) (param $ld i32)
    (local $i i32) (local $j i32) (local $end i32) (local $row i32)
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $end (i32.mul (i32.add (i32.div_u (local.get $i) (i32.const 5)) (i32.const 1)) (i32.const 5)))
        (if (i32.gt_u (local.get $end) (local.get $rows)) (then (local.set $end (local.get $rows))))
        (local.set $row (i32.add (local.get $s) (i32.shl (i32.mul (local.get $i) (local.get $ld)) (i32.const 2))))
        (local.set $j (i32.add (local.get $i) (i32.const 1)))
        (block $colsDone
          (loop $cols
            (br_if $colsDone (i32.ge_u (local.get $j) (local.get $end)))
            (f32.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))) (f32.const 0))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; cols columns of rows rows from src (row stride ldSrc) to dst (row stride ldDst); strides in elements.
  (func (export "copyBlock") (param $src i32) (param $ldSrc i32) (param $dst i32) (param $ldDst i32) (param $rows i32) (param $cols i32)
    (local $i i32)
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $rows)))
        (memory.copy
          (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $i) (local.get $ldDst)) (i32.const 2)))
          (i32.add (local.get $src) (i32.shl (i32.mul (local.get $i) (local.get $ldSrc)) (i32.const 2)))
          (i32.shl (local.get $cols) (i32.const 2)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; ---------------------------------------------------------------------------------------------
  ;; Softmax of rows rowStart .. rowEnd−1 of S (rows of `cols` float32, in place), as tensor.ts
  ;; specifies it: scaled = fl(s / divisor); w = exp(scaled − max) / Σ exp(scaled − max). The
  ;; exponentials are float32 (four lanes), their sum is double, w = fl(e · fl(1 / Σ)). With
  ;; `causal`, row i covers columns 0 .. i only (the rest is not read or written). −∞ gives 0; a
  ;; row that is all −∞ becomes 0.
  ;; (PyTorch's CPU softmax also takes float32 exponentials; ours was double until measured at
  ;; 0.62 ms per (512, 512) causal map on two threads, mostly the double polynomial.)

  (func (export "softmax")
    (param $s i32) (param $rowStart i32) (param $rowEnd i32) (param $cols i32) (param $divisor f32) (param $causal i32)
    (local $i i32) (local $row i32) (local $len i32) (local $j i32) (local $at i32) (local $x f32) (local $max f32)
    (local $vmax v128) (local $d v128) (local $m v128) (local $e v128) (local $sumLo v128) (local $sumHi v128)
    (local $inverse v128) (local $rest i32) (local $rest4 v128) (local $k v128) (local $r v128) (local $under v128)
    (local.set $d (f32x4.splat (local.get $divisor)))
    (local.set $i (local.get $rowStart))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rowEnd)))
        (local.set $row (i32.add (local.get $s) (i32.shl (i32.mul (local.get $i) (local.get $cols)) (i32.const 2))))
        (local.set $len (local.get $cols))
        (if (local.get $causal)
          (then (if (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $cols))
            (then (local.set $len (i32.add (local.get $i) (i32.const 1)))))))
        ;; scale in place (float32 division, one rounding) and find the maximum
        (local.set $vmax (f32x4.splat (f32.const -inf)))
        (local.set $j (i32.const 0))
        (block $quadsDone
          (loop $quads
            (br_if $quadsDone (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $len)))
            (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $e (f32x4.div (v128.load (local.get $at)) (local.get $d)))
            (v128.store (local.get $at) (local.get $e))
            (local.set $vmax (f32x4.max (local.get $vmax) (local.get $e)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $quads)))
        (local.set $max (f32.max
          (f32.max (f32x4.extract_lane 0 (local.get $vmax)) (f32x4.extract_lane 1 (local.get $vmax)))
          (f32.max (f32x4.extract_lane 2 (local.get $vmax)) (f32x4.extract_lane 3 (local.get $vmax)))))
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $j) (local.get $len)))
            (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $x (f32.div (f32.load (local.get $at)) (local.get $divisor)))
            (f32.store (local.get $at) (local.get $x))
            (local.set $max (f32.max (local.get $max) (local.get $x)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))
        (if (f32.eq (local.get $max) (f32.const -inf))
          (then
            ;; fully masked row: zeros
            (memory.fill (local.get $row) (i32.const 0) (i32.shl (local.get $len) (i32.const 2))))
          (else
            ;; exponentials in place, four at a time, summed in double (two pairs of lanes). The
            ;; last len mod 4 are lanes of one more vector whose other lanes are −∞ (e = 0, adding
            ;; nothing), so nothing past the row is read or written and one copy of the
            ;; exponential serves every entry (V8 calls, not inlines, a WebAssembly function: as a
            ;; function it took a third of the softmax's time).
            ;; e^x for x <= 0: x = k·ln2 + r with |r| <= ln2/2 (ln2 split in two so k·LN2_HI is
            ;; exact: LN2_HI has 12 significant bits, k at most 7), a degree-7 Taylor polynomial for
            ;; e^r (truncation below r⁸/8! ≈ 5e-9, a tenth of a float32 ulp), times 2^k built in the
            ;; exponent bits. Below −87 e^x is under float32's smallest normal (1.2e-38): 0, as for −∞.
            (local.set $m (f32x4.splat (local.get $max)))
            (local.set $sumLo (f64x2.splat (f64.const 0)))
            (local.set $sumHi (f64x2.splat (f64.const 0)))
            (local.set $j (i32.const 0))
            (block $expDone
              (loop $exp
                (br_if $expDone (i32.ge_u (local.get $j) (local.get $len)))
                (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                (local.set $rest (i32.sub (local.get $len) (local.get $j)))
                (if (i32.ge_u (local.get $rest) (i32.const 4))
                  (then (local.set $e (v128.load (local.get $at))))
                  (else
                    (local.set $e (f32x4.replace_lane 0 (f32x4.splat (f32.const -inf)) (f32.load (local.get $at))))
                    (if (i32.gt_u (local.get $rest) (i32.const 1))
                      (then (local.set $e (f32x4.replace_lane 1 (local.get $e) (f32.load offset=4 (local.get $at))))))
                    (if (i32.gt_u (local.get $rest) (i32.const 2))
                      (then (local.set $e (f32x4.replace_lane 2 (local.get $e) (f32.load offset=8 (local.get $at))))))))
                (local.set $e (f32x4.sub (local.get $e) (local.get $m)))
                (local.set $under (f32x4.lt (local.get $e) (f32x4.splat (f32.const -87))))
                (local.set $e (f32x4.pmax (local.get $e) (f32x4.splat (f32.const -87))))
                ;; k = round(x·log2 e) by adding 1.5·2^23, which leaves k in the low mantissa bits
                ;; (|k| <= 126), so k is also had as an integer without a float-to-integer conversion
                (local.set $k (f32x4.add (f32x4.mul (local.get $e) (f32x4.splat (f32.const 1.44269504))) (f32x4.splat (f32.const 12582912))))
                (local.set $rest4 (i32x4.add (i32x4.sub (local.get $k) (i32x4.splat (i32.const 0x4b400000))) (i32x4.splat (i32.const 127))))
                (local.set $k (f32x4.sub (local.get $k) (f32x4.splat (f32.const 12582912))))
                (local.set $r (f32x4.sub
                  (f32x4.sub (local.get $e) (f32x4.mul (local.get $k) (f32x4.splat (f32.const 0.693145751953125))))
                  (f32x4.mul (local.get $k) (f32x4.splat (f32.const 1.428606765330187e-06)))))
                (local.set $e (v128.andnot
                  (f32x4.mul
                    (f32x4.add (f32x4.splat (f32.const 1.0)) (f32x4.mul (local.get $r) (f32x4.add (f32x4.splat (f32.const 1.0)) (f32x4.mul (local.get $r) (f32x4.add (f32x4.splat (f32.const 0.5)) (f32x4.mul (local.get $r) (f32x4.add (f32x4.splat (f32.const 0.16666667)) (f32x4.mul (local.get $r) (f32x4.add (f32x4.splat (f32.const 0.041666668)) (f32x4.mul (local.get $r) (f32x4.add (f32x4.splat (f32.const 0.008333334)) (f32x4.mul (local.get $r) (f32x4.add (f32x4.splat (f32.const 0.0013888889)) (f32x4.mul (local.get $r) (f32x4.splat (f32.const 0.0001984127))))))))))))))))
                    ;; 2^k for whole k in −126 .. 0: k + 127 in the exponent bits
                    (i32x4.shl (local.get $rest4) (i32.const 23)))
                  (local.get $under)))
                (if (i32.ge_u (local.get $rest) (i32.const 4))
                  (then (v128.store (local.get $at) (local.get $e)))
                  (else
                    (v128.store32_lane 0 (local.get $at) (local.get $e))
                    (if (i32.gt_u (local.get $rest) (i32.const 1))
                      (then (v128.store32_lane offset=4 1 (local.get $at) (local.get $e))))
                    (if (i32.gt_u (local.get $rest) (i32.const 2))
                      (then (v128.store32_lane offset=8 2 (local.get $at) (local.get $e))))))
                (local.set $sumLo (f64x2.add (local.get $sumLo) (f64x2.promote_low_f32x4 (local.get $e))))
                (local.set $sumHi (f64x2.add (local.get $sumHi) (f64x2.promote_low_f32x4
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $e) (local.get $e)))))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $exp)))
            ;; w = e · fl(1 / Σ e)
            (local.set $sumLo (f64x2.add (local.get $sumLo) (local.get $sumHi)))
            (local.set $inverse (f32x4.splat (f32.demote_f64 (f64.div (f64.const 1)
              (f64.add (f64x2.extract_lane 0 (local.get $sumLo)) (f64x2.extract_lane 1 (local.get $sumLo)))))))
            (local.set $j (i32.const 0))
            (block $writeDone
              (loop $write
                (br_if $writeDone (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $len)))
                (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                (v128.store (local.get $at) (f32x4.mul (v128.load (local.get $at)) (local.get $inverse)))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $write)))
            (block $tailWriteDone
              (loop $tailWrite
                (br_if $tailWriteDone (i32.ge_u (local.get $j) (local.get $len)))
                (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                (f32.store (local.get $at) (f32.mul (f32.load (local.get $at)) (f32x4.extract_lane 0 (local.get $inverse))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $tailWrite)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

;; ---------------------------------------------------------------------------------------------
  ;; A training step's causal maps (attention.ts): (rows, ·) float32 with row strides in elements.

  ;; dst[i][j] = src[i][j] for j <= i and 0 for i < j < cols: a map kept whole for the backward.
  (func (export "copyLower") (param $src i32) (param $lds i32) (param $dst i32) (param $ldd i32) (param $rows i32) (param $cols i32)
    (local $i i32) (local $len i32) (local $to i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $len (i32.add (local.get $i) (i32.const 1)))
        (if (i32.gt_u (local.get $len) (local.get $cols)) (then (local.set $len (local.get $cols))))
        (local.set $to (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $i) (local.get $ldd)) (i32.const 2))))
        (memory.copy (local.get $to)
          (i32.add (local.get $src) (i32.shl (i32.mul (local.get $i) (local.get $lds)) (i32.const 2)))
          (i32.shl (local.get $len) (i32.const 2)))
        (memory.fill (i32.add (local.get $to) (i32.shl (local.get $len) (i32.const 2))) (i32.const 0)
          (i32.shl (i32.sub (local.get $cols) (local.get $len)) (i32.const 2)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each))))

  ;; Dropout on a causal map: s[i][j] = fl((s[i][j]·scale)·keep[i][j]) for j <= i, in double as
  ;; train/layers.ts wrote it; keep holds bytes 0 or 1 (row stride ldk).
  (func (export "dropoutLower") (param $s i32) (param $lds i32) (param $keep i32) (param $ldk i32) (param $rows i32) (param $scale f64)
    (local $i i32) (local $j i32) (local $at i32)
    (block $rowsDone
      (loop $rowsLoop
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $j (i32.const 0))
        (block $colsDone
          (loop $colsLoop
            (br_if $colsDone (i32.gt_u (local.get $j) (local.get $i)))
            (local.set $at (i32.add (local.get $s) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $lds)) (local.get $j)) (i32.const 2))))
            (f32.store (local.get $at) (f32.demote_f64 (f64.mul
              (f64.mul (f64.promote_f32 (f32.load (local.get $at))) (local.get $scale))
              (f64.convert_i32_u (i32.load8_u (i32.add (local.get $keep) (i32.add (i32.mul (local.get $i) (local.get $ldk)) (local.get $j))))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $colsLoop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rowsLoop))))

  ;; Back through dropout and softmax: row i of g holds dDropped (j <= i); it becomes dScores.
  ;;   with keep >= 0: dWeights[j] = (g[j]·scale)·keep[j] (g keeps it rounded; the dot takes it as is)
  ;;   dot = Σ_{j <= i} w[j]·dWeights[j], in double in increasing j
  ;;   g[j] = fl((w[j]·(g[j] − dot)) / divisor) for j <= i, and 0 for i < j < cols
  (func (export "softmaxBackward")
    (param $g i32) (param $ldg i32) (param $w i32) (param $ldw i32) (param $keep i32) (param $ldk i32)
    (param $rows i32) (param $cols i32) (param $scale f64) (param $divisor f64)
    (local $i i32) (local $j i32) (local $len i32) (local $gRow i32) (local $wRow i32) (local $at i32) (local $dot f64) (local $d f64)
    (block $rowsDone
      (loop $rowsLoop
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $gRow (i32.add (local.get $g) (i32.shl (i32.mul (local.get $i) (local.get $ldg)) (i32.const 2))))
        (local.set $wRow (i32.add (local.get $w) (i32.shl (i32.mul (local.get $i) (local.get $ldw)) (i32.const 2))))
        (local.set $len (i32.add (local.get $i) (i32.const 1)))
        (if (i32.gt_u (local.get $len) (local.get $cols)) (then (local.set $len (local.get $cols))))
        (local.set $dot (f64.const 0))
        (local.set $j (i32.const 0))
        (block $dotDone
          (loop $dotLoop
            (br_if $dotDone (i32.ge_u (local.get $j) (local.get $len)))
            (local.set $at (i32.add (local.get $gRow) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $d (f64.promote_f32 (f32.load (local.get $at))))
            (if (i32.ge_s (local.get $keep) (i32.const 0))
              (then
                (local.set $d (f64.mul (f64.mul (local.get $d) (local.get $scale))
                  (f64.convert_i32_u (i32.load8_u (i32.add (local.get $keep) (i32.add (i32.mul (local.get $i) (local.get $ldk)) (local.get $j)))))))
                (f32.store (local.get $at) (f32.demote_f64 (local.get $d)))))
            (local.set $dot (f64.add (local.get $dot)
              (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $wRow) (i32.shl (local.get $j) (i32.const 2))))) (local.get $d))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $dotLoop)))
        (local.set $j (i32.const 0))
        (block $gradDone
          (loop $gradLoop
            (br_if $gradDone (i32.ge_u (local.get $j) (local.get $len)))
            (local.set $at (i32.add (local.get $gRow) (i32.shl (local.get $j) (i32.const 2))))
            (f32.store (local.get $at) (f32.demote_f64 (f64.div
              (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $wRow) (i32.shl (local.get $j) (i32.const 2)))))
                (f64.sub (f64.promote_f32 (f32.load (local.get $at))) (local.get $dot)))
              (local.get $divisor))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $gradLoop)))
        (memory.fill (i32.add (local.get $gRow) (i32.shl (local.get $len) (i32.const 2))) (i32.const 0)
          (i32.shl (i32.sub (local.get $cols) (local.get $len)) (i32.const 2)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rowsLoop))))

  ;; rows.wat
)
