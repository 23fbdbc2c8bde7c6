/** QA validators (HEAD's, spec §1.7). Workflow-safe. */

export const MAX_QUESTION_CHARS = 500;
export const MAX_QUESTION_WORDS = 85;

function normalize(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ').trim();
}

/**
 * null when acceptable, else a reason (`key: detail`, key one of empty_question, empty_answer,
 * answer_in_question, question_too_long). The detail is written so it can be shown to the model.
 */
export function validateQa(qa: { question: string; answer: string }): string | null {
  const question = normalize(qa.question ?? '');
  const answer = normalize(qa.answer ?? '');
  if (!question) return 'empty_question: the question is empty';
  if (!answer) return 'empty_answer: the answer is empty';
  if (question.includes(answer)) return `answer_in_question: the answer "${qa.answer.trim()}" appears in the question`;
  const chars = qa.question.trim().length;
  const words = question.split(' ').filter(Boolean).length;
  if (chars > MAX_QUESTION_CHARS || words > MAX_QUESTION_WORDS) {
    return `question_too_long: ${chars} characters and ${words} words (limit ${MAX_QUESTION_CHARS} characters and ${MAX_QUESTION_WORDS} words)`;
  }
  return null;
}
