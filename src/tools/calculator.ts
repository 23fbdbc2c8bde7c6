/**
 * `calculator` (math mode): evaluates arithmetic expressions with mathjs, hardened as recommended by the mathjs
 * security docs (libraries.md §1.4): `import`, `createUnit`, `evaluate`, `parse`, `simplify` and `derivative` are
 * replaced by throwing stubs after a reference to the real `evaluate` is kept, so expressions cannot redefine
 * functions or reach JavaScript. The expression parser itself refuses property access to `constructor` and similar.
 *
 * Output as the original: `### Calculator Results:\n<expr> = <value | ERROR (msg)>`, one line per expression.
 * Evaluation runs in-process and synchronously: expression length is capped, and huge matrix/combinatorial results
 * are refused by a size check on the result; a pathological but short expression can still take CPU time.
 */
import { all, create, type MathJsInstance } from 'mathjs';
import { z } from 'zod';
import type { ToolDefinition } from './tool';

const math: MathJsInstance = create(all, { number: 'number', precision: 64 });
const evaluate = math.evaluate.bind(math);
const format = math.format.bind(math);

function refuse(name: string): () => never {
  return () => {
    throw new Error(`function ${name} is disabled`);
  };
}

math.import(
  {
    import: refuse('import'),
    createUnit: refuse('createUnit'),
    evaluate: refuse('evaluate'),
    parse: refuse('parse'),
    simplify: refuse('simplify'),
    derivative: refuse('derivative'),
    compile: refuse('compile'),
    reviver: refuse('reviver'),
    resolve: refuse('resolve'),
  },
  { override: true },
);

export const MAX_EXPRESSION_CHARS = 500;
/** Longest result text per expression. */
const MAX_RESULT_CHARS = 1000;

export const calculatorSchema = z.object({
  expressions: z
    .array(z.string().max(MAX_EXPRESSION_CHARS).describe('One arithmetic expression, e.g. "17 * 23" or "sqrt(144) + 3"'))
    .min(1)
    .max(20)
    .describe('Expressions to evaluate, in order; later ones may use variables assigned by earlier ones (e.g. "a = 3")'),
});

export type CalculatorArgs = z.infer<typeof calculatorSchema>;

function formatValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') throw new Error('result is a function, not a value');
  // ResultSet of a multi-statement expression: show the last value.
  if (value && typeof value === 'object' && Array.isArray((value as { entries?: unknown }).entries)) {
    const entries = (value as { entries: unknown[] }).entries;
    return entries.length ? formatValue(entries[entries.length - 1]) : 'undefined';
  }
  // mathjs writes numbers from 1e5 up in exponential notation by default (`1.012e+5` for 2300 * 44): models and
  // readers expect 101200. Plain notation from 1e-9 to 1e21 (where JavaScript's own toString switches too).
  const text = format(value, { precision: 14, lowerExp: -9, upperExp: 21 });
  if (text.length > MAX_RESULT_CHARS) throw new Error(`result too large (${text.length} characters)`);
  return text;
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 200);
}

export const calculatorTool: ToolDefinition<CalculatorArgs> = {
  name: 'calculator',
  description:
    'Evaluate mathematical expressions (arithmetic, powers, sqrt, log, trigonometry, constants such as pi and e, unit conversions like "5 km to mile"). Returns one result per expression.',
  schema: calculatorSchema,
  async execute(args) {
    const scope = new Map<string, unknown>();
    const lines: string[] = [];
    let failures = 0;
    for (const expr of args.expressions) {
      const shown = expr.replace(/\s+/g, ' ').trim();
      try {
        if (!shown) throw new Error('empty expression');
        lines.push(`${shown} = ${formatValue(evaluate(expr, scope))}`);
      } catch (err) {
        failures++;
        lines.push(`${shown} = ERROR (${message(err)})`);
      }
    }
    const text = `### Calculator Results:\n${lines.join('\n')}`;
    return failures === args.expressions.length ? { text, error: true } : { text };
  },
};
