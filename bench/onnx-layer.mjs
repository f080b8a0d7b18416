// The bench layer as an ONNX graph (opset 17, standard ops only), written with onnx-proto:
//   x (T, dim) · W_qᵀ, W_kᵀ, W_vᵀ -> Reshape (T, H, hd) -> Transpose (H, T, hd)
//   scores = Q·Kᵀ / √hd + mask (0 on and below the diagonal, −∞ above) -> Softmax(axis −1)
//   context = weights·V -> Transpose (T, H, hd) -> Reshape (T, dim) -> ·W_oᵀ + b_o
//   layer norm: (x − mean) / √(mean((x − mean)²) + 1e-5) · scale + shift
// Weights are initializers in the layouts MatMul wants (W transposed once here).
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** (rows, cols) row-major -> (cols, rows) */
function transposed(data, rows, cols) {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
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

function valueInfo(name, dims) {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

/**
 * @param {{seq: number, dim: number, heads: number}} shape
 * @param {Map<string, Float32Array>} tensors the bench layer's weights by safetensors name
 * @returns {Uint8Array} the serialized ModelProto
 */
export function buildLayerModel({ seq: T, dim: D, heads: H }, tensors) {
  const hd = D / H;
  const get = (name) => {
    const value = tensors.get(name);
    if (!value) throw new Error(`onnx-layer: tensor ${name} is missing`);
    return value;
  };
  const mask = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[i * T + j] = -Infinity;
  const initializer = [
    floatTensor('WqT', [D, D], transposed(get('mha.W_query.weight'), D, D)),
    floatTensor('WkT', [D, D], transposed(get('mha.W_key.weight'), D, D)),
    floatTensor('WvT', [D, D], transposed(get('mha.W_value.weight'), D, D)),
    floatTensor('WoT', [D, D], transposed(get('mha.out_proj.weight'), D, D)),
    floatTensor('bo', [D], get('mha.out_proj.bias')),
    floatTensor('scale', [D], get('norm.scale')),
    floatTensor('shift', [D], get('norm.shift')),
    floatTensor('mask', [T, T], mask),
    floatTensor('sqrtHeadDim', [], Float32Array.of(Math.sqrt(hd))),
    floatTensor('two', [], Float32Array.of(2)),
    floatTensor('eps', [], Float32Array.of(1e-5)),
    int64Tensor('splitShape', [T, H, hd]),
    int64Tensor('mergeShape', [T, D]),
  ];
  const nodes = [];
  for (const [name, weight] of [['q', 'WqT'], ['k', 'WkT'], ['v', 'WvT']]) {
    nodes.push(node('MatMul', ['x', weight], [name]));
    nodes.push(node('Reshape', [name, 'splitShape'], [`${name}Split`]));
  }
  nodes.push(
    node('Transpose', ['qSplit'], ['qHeads'], [ints('perm', [1, 0, 2])]), // (H, T, hd)
    node('Transpose', ['kSplit'], ['kHeadsT'], [ints('perm', [1, 2, 0])]), // (H, hd, T)
    node('Transpose', ['vSplit'], ['vHeads'], [ints('perm', [1, 0, 2])]), // (H, T, hd)
    node('MatMul', ['qHeads', 'kHeadsT'], ['scores']), // (H, T, T)
    node('Div', ['scores', 'sqrtHeadDim'], ['scaled']),
    node('Add', ['scaled', 'mask'], ['masked']),
    node('Softmax', ['masked'], ['attnWeights'], [int('axis', -1)]),
    node('MatMul', ['attnWeights', 'vHeads'], ['context']), // (H, T, hd)
    node('Transpose', ['context'], ['contextT'], [ints('perm', [1, 0, 2])]), // (T, H, hd)
    node('Reshape', ['contextT', 'mergeShape'], ['concat']), // (T, D)
    node('MatMul', ['concat', 'WoT'], ['projected']),
    node('Add', ['projected', 'bo'], ['attended']),
    node('ReduceMean', ['attended'], ['mean'], [ints('axes', [-1]), int('keepdims', 1)]),
    node('Sub', ['attended', 'mean'], ['centred']),
    node('Pow', ['centred', 'two'], ['squares']),
    node('ReduceMean', ['squares'], ['variance'], [ints('axes', [-1]), int('keepdims', 1)]),
    node('Add', ['variance', 'eps'], ['varianceEps']),
    node('Sqrt', ['varianceEps'], ['std']),
    node('Div', ['centred', 'std'], ['normed']),
    node('Mul', ['normed', 'scale'], ['scaledNormed']),
    node('Add', ['scaledNormed', 'shift'], ['y']),
  );
  const model = {
    irVersion: 8,
    producerName: 'llm101-bench',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'attention_layer',
      node: nodes,
      initializer,
      input: [valueInfo('x', [T, D])],
      output: [valueInfo('y', [T, D])],
    },
  };
  const error = onnx.ModelProto.verify(model);
  if (error) throw new Error(`onnx-layer: ${error}`);
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
