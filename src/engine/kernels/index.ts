// The engine's kernels: every stage's matrix product (Q·Kᵀ, weights·V, nn.Linear) goes through
// matmulInto or matmulPackedInto and every softmax through softmaxRowsInto (products.ts); whole
// layers at inference stay in the kernel's workspace (layers.ts). The thread pool and its job
// protocol are pool.ts and protocol.ts, the helper thread helper.ts (dist/kernelHelper.js), the
// memory heap.ts, the WebAssembly kernels.wat; the layers' elementwise work rows.ts (rows.wat).

export { attentionBackwardInto, attentionForwardInto, type AttentionShape } from './attention';
export { KernelArena, type PackedMatrix } from './heap';
export { feedForwardPackedInto, multiHeadForwardInto, type PackedProjection, type ProjectionWeights } from './layers';
export {
  MAX_THREADS,
  availableCores,
  helperChunkCount,
  kernelVariant,
  kernelMemoryBytes,
  kernelThreads,
  readyHelpers,
  relaxedSimdAvailable,
  releaseWorkspace,
  setKernelThreads,
  setKernelVariant,
  setWaitForHelper,
  splitProductCount,
  threadsFor,
  warmUpKernel,
  type KernelVariant,
} from './pool';
export { adamwInto, addInto, columnSumsInto, geluBackwardInto, geluRowsInto, layerNormBackwardInto, layerNormRowsInto, transposeInto, type AdamWConstants } from './rows';
export { matmulInto, matmulPackedInto, packMatrix, releasePacked, softmaxOfPackedProduct, softmaxRowsInto, type MatmulOptions } from './products';
