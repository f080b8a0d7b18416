// `llm101 export --pytorch`: a small PyTorch project around a checkpoint.
import { exportPytorchProject } from '../export/pytorchProject';
import { UsageError, optionalInteger } from './args';
import { type Command } from './command';

export const exportCommand: Command = {
  summary: 'write a small PyTorch project for a checkpoint: model.py, generate.py, train.py (torchrun + DDP)',
  usage: 'llm101 export --pytorch DIR --weights FILE [--heads H]',
  help: [
    '  --pytorch DIR         a new or empty folder for the project: model.safetensors (the checkpoint,',
    "                        book names, F32), model.py (GPTModel, safetensors in plain Python: only",
    "                        torch needed), tokenizer.py (the checkpoint's; gpt2 needs tiktoken),",
    '                        generate.py (greedy by default, as llm101 generate), train.py (resumes',
    '                        training on a CPU or GPUs, torchrun + DistributedDataParallel), README.md',
    "  --weights FILE|DIR    the checkpoint: one llm101 train wrote (it carries its tokenizer) or GPT-2's",
    '  --heads H             heads, for a checkpoint that does not say',
  ],
  options: { pytorch: { type: 'string' }, weights: { type: 'string' }, heads: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  async run(values, io) {
    if (typeof values.pytorch !== 'string') throw new UsageError('--pytorch DIR is required: the folder the PyTorch project is written to');
    if (typeof values.weights !== 'string') throw new UsageError('--weights FILE is required: the checkpoint to export, e.g. one llm101 train wrote');
    const heads = optionalInteger(values, 'heads');
    const project = exportPytorchProject(values.pytorch, values.weights, heads !== undefined ? { heads } : {});
    io.stdout.write(
      `wrote ${project.dir}: ${project.files.join(', ')} (${project.tokenizer} tokenizer${project.step !== undefined ? `, step ${project.step}` : ''})\n` +
        `try: cd ${project.dir} && python3 generate.py --prompt "The sea" --max-new-tokens 20\n`,
    );
  },
};
