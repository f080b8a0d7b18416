// The book's GPTModel at inference as one ONNX graph (opset 17, standard ops only), written with
// onnx-proto from the same weights as ours (a GptModel's fields, src/engine/gpt/types.ts). One
// graph serves the forward and cached decoding: it takes the new tokens and every layer's cached
// keys and values, and returns the last position's logits and the caches grown by the new rows.
//   inputs   ids (T) int64, positions (T) int64, mask (T, P + T) float (0 or −∞),
//            pastKey{l}, pastValue{l} (H, P, hd) per layer (P = 0 for a forward from scratch)
//   x = Gather(tok_emb, ids) + Gather(pos_emb, positions)                      (T, D)
//   per block l (pre-norm, as transformerBlock.ts):
//     n = LayerNormalization(x; norm1)                                          (T, D)
//     q, k, v = n·W_qᵀ (+ b), n·W_kᵀ, n·W_vᵀ -> Reshape (T, H, hd) -> Transpose (H, T, hd)
//     presentKey{l} = Concat(pastKey{l}, k) along positions, the same for values (H, P + T, hd)
//     weights = Softmax(q·presentKeyᵀ / √hd + mask)                            (H, T, P + T)
//     x = x + (weights·presentValue -> Transpose (T, H, hd) -> Reshape (T, D))·W_oᵀ + b_o
//     x = x + GELU(LayerNormalization(x; norm2)·W_upᵀ + b_up)·W_downᵀ + b_down
//   logits = LayerNormalization(x[T−1]; final_norm)·W_outᵀ                     (1, V)
// Op semantics from the ONNX operator docs (onnx/docs/Operators.md): LayerNormalization (new in
// opset 17) normalises over axis −1 with the biased variance, Y = (X − mean)/√(var + ε)·scale + B,
// as the book's LayerNorm (unbiased=False); Gelu is only an operator from opset 20, so GELU's tanh
// form is written out, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), which onnxruntime's optimiser
// may fuse; Softmax (opset 13 on) normalises along `axis` alone; Slice with starts −1 takes the last row.
// Weights are initializers in the layouts MatMul wants (each nn.Linear weight transposed once here).
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** (rows, cols) row-major -> (cols, rows), in 32×32 tiles (the output head is 38.6M floats). */
function transposed(data, rows, cols) {
  const out = new Float32Array(rows * cols);
  const tile = 32;
  for (let r0 = 0; r0 < rows; r0 += tile) {
    for (let c0 = 0; c0 < cols; c0 += tile) {
      const rEnd = Math.min(rows, r0 + tile);
      const cEnd = Math.min(cols, c0 + tile);
      for (let r = r0; r < rEnd; r++) for (let c = c0; c < cEnd; c++) out[c * rows + r] = data[r * cols + c];
    }
  }
  return out;
}

function floatTensor(name, dims, data) {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function int64Tensor(name, values) {
  return { name, dims: [values.length], dataType: INT64, int64Data: values };
}

function node(opType, inputs, outputs, attributes = []) {
  return { opType, input: inputs, output: outputs, name: outputs[0], attribute: attributes };
}

const ints = (name, values) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });
const int = (name, value) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });
const float = (name, value) => ({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value });

/** A value's type; a string dimension is symbolic (its size comes with the input). */
function valueInfo(name, elemType, dims) {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

/**
 * @param {import('../src/engine/gpt/types').GptModel} model
 * @returns {Uint8Array} the serialized ModelProto
 */
export function buildGptModel(model) {
  const { vocabSize: V, dim: D, heads: H, layers, layerNormEps } = model.config;
  const hd = D / H;
  const w = model.weights;
  const initializer = [
    floatTensor('tokEmb', [V, D], w.tokEmb.data),
    floatTensor('posEmb', [w.posEmb.rows, D], w.posEmb.data),
    floatTensor('sqrtHeadDim', [], Float32Array.of(Math.sqrt(hd))),
    floatTensor('half', [], Float32Array.of(0.5)),
    floatTensor('one', [], Float32Array.of(1)),
    floatTensor('geluCubic', [], Float32Array.of(0.044715)),
    floatTensor('sqrt2OverPi', [], Float32Array.of(Math.sqrt(2 / Math.PI))),
    int64Tensor('splitShape', [-1, H, hd]),
    int64Tensor('mergeShape', [-1, D]),
    int64Tensor('lastStart', [-1]),
    int64Tensor('lastEnd', [Number.MAX_SAFE_INTEGER]),
    int64Tensor('rowAxis', [0]),
  ];
  const nodes = [
    node('Gather', ['tokEmb', 'ids'], ['tokens']),
    node('Gather', ['posEmb', 'positions'], ['positionVectors']),
    node('Add', ['tokens', 'positionVectors'], ['x0']),
  ];
  const layerNorm = (input, scale, shift, output) => node('LayerNormalization', [input, scale, shift], [output], [int('axis', -1), float('epsilon', layerNormEps)]);
  // y = x·Wᵀ (+ b) of an nn.Linear, W stored transposed as `${name}T`
  const linear = (input, name, { weight, bias }, output) => {
    initializer.push(floatTensor(`${name}T`, [weight.cols, weight.rows], transposed(weight.data, weight.rows, weight.cols)));
    if (!bias) return nodes.push(node('MatMul', [input, `${name}T`], [output]));
    initializer.push(floatTensor(`${name}.bias`, [bias.length], bias));
    nodes.push(node('MatMul', [input, `${name}T`], [`${output}.product`]), node('Add', [`${output}.product`, `${name}.bias`], [output]));
  };
  const inputs = [valueInfo('ids', INT64, ['T']), valueInfo('positions', INT64, ['T']), valueInfo('mask', FLOAT, ['T', 'S'])];
  const outputs = [valueInfo('logits', FLOAT, [1, V])];
  for (let l = 0; l < layers; l++) {
    const b = w.blocks[l];
    const p = `b${l}.`; // every name of block l
    const x = `x${l}`;
    initializer.push(
      floatTensor(`${p}norm1.scale`, [D], b.norm1.scale),
      floatTensor(`${p}norm1.shift`, [D], b.norm1.shift),
      floatTensor(`${p}norm2.scale`, [D], b.norm2.scale),
      floatTensor(`${p}norm2.shift`, [D], b.norm2.shift),
    );
    nodes.push(layerNorm(x, `${p}norm1.scale`, `${p}norm1.shift`, `${p}n1`));
    for (const [short, weights] of [['q', b.att.query], ['k', b.att.key], ['v', b.att.value]]) {
      linear(`${p}n1`, `${p}W_${short}`, weights, `${p}${short}`);
      nodes.push(
        node('Reshape', [`${p}${short}`, 'splitShape'], [`${p}${short}Split`]), // (T, H, hd)
        node('Transpose', [`${p}${short}Split`], [`${p}${short}Heads`], [ints('perm', [1, 0, 2])]), // (H, T, hd)
      );
    }
    nodes.push(
      node('Concat', [`pastKey${l}`, `${p}kHeads`], [`presentKey${l}`], [int('axis', 1)]), // (H, P + T, hd)
      node('Concat', [`pastValue${l}`, `${p}vHeads`], [`presentValue${l}`], [int('axis', 1)]),
      node('Transpose', [`presentKey${l}`], [`${p}keysT`], [ints('perm', [0, 2, 1])]), // (H, hd, P + T)
      node('MatMul', [`${p}qHeads`, `${p}keysT`], [`${p}scores`]), // (H, T, P + T)
      node('Div', [`${p}scores`, 'sqrtHeadDim'], [`${p}scaled`]),
      node('Add', [`${p}scaled`, 'mask'], [`${p}masked`]),
      node('Softmax', [`${p}masked`], [`${p}attnWeights`], [int('axis', -1)]),
      node('MatMul', [`${p}attnWeights`, `presentValue${l}`], [`${p}context`]), // (H, T, hd)
      node('Transpose', [`${p}context`], [`${p}contextT`], [ints('perm', [1, 0, 2])]), // (T, H, hd)
      node('Reshape', [`${p}contextT`, 'mergeShape'], [`${p}concat`]), // (T, D)
    );
    linear(`${p}concat`, `${p}W_o`, b.att.outProj, `${p}attended`);
    nodes.push(node('Add', [x, `${p}attended`], [`${p}a`]), layerNorm(`${p}a`, `${p}norm2.scale`, `${p}norm2.shift`, `${p}n2`));
    linear(`${p}n2`, `${p}W_up`, b.ff.up, `${p}h`);
    nodes.push(
      node('Mul', [`${p}h`, `${p}h`], [`${p}h2`]),
      node('Mul', [`${p}h2`, `${p}h`], [`${p}h3`]),
      node('Mul', [`${p}h3`, 'geluCubic'], [`${p}cubic`]),
      node('Add', [`${p}h`, `${p}cubic`], [`${p}inner`]),
      node('Mul', [`${p}inner`, 'sqrt2OverPi'], [`${p}tanhArg`]),
      node('Tanh', [`${p}tanhArg`], [`${p}tanh`]),
      node('Add', [`${p}tanh`, 'one'], [`${p}onePlus`]),
      node('Mul', [`${p}h`, 'half'], [`${p}halfH`]),
      node('Mul', [`${p}halfH`, `${p}onePlus`], [`${p}gelu`]),
    );
    linear(`${p}gelu`, `${p}W_down`, b.ff.down, `${p}ff`);
    nodes.push(node('Add', [`${p}a`, `${p}ff`], [`x${l + 1}`]));
    inputs.push(valueInfo(`pastKey${l}`, FLOAT, [H, 'P', hd]), valueInfo(`pastValue${l}`, FLOAT, [H, 'P', hd]));
    outputs.push(valueInfo(`presentKey${l}`, FLOAT, [H, 'S', hd]), valueInfo(`presentValue${l}`, FLOAT, [H, 'S', hd]));
  }
  initializer.push(floatTensor('final.scale', [D], w.finalNorm.scale), floatTensor('final.shift', [D], w.finalNorm.shift));
  nodes.push(
    node('Slice', [`x${layers}`, 'lastStart', 'lastEnd', 'rowAxis'], ['lastRow']), // (1, D)
    layerNorm('lastRow', 'final.scale', 'final.shift', 'finalNorm'),
  );
  linear('finalNorm', 'outHead', { weight: w.outHead }, 'logits');
  const proto = {
    irVersion: 8,
    producerName: 'llm101-bench',
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'gpt', node: nodes, initializer, input: inputs, output: outputs },
  };
  const error = onnx.ModelProto.verify(proto);
  if (error) throw new Error(`onnx-gpt: ${error}`);
  return onnx.ModelProto.encode(onnx.ModelProto.create(proto)).finish();
}

/** The causal mask of T new rows after P cached positions: row i sees positions 0 .. P + i. (T, P + T) */
export function causalMask(T, P) {
  const S = P + T;
  const mask = new Float32Array(T * S);
  for (let i = 0; i < T; i++) mask.fill(-Infinity, i * S + P + i + 1, (i + 1) * S);
  return mask;
}
