// A count with its noun, singular for one: "1 head", "12 heads", "2,048 tokens". The one way the
// panels and the CLI write a model's sizes (a bundled model has one head per layer).

export function counted(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}
