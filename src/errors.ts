/** A problem in the user's input, located in a file. */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.message}`;
}

/** An error the user can fix: printed as one clear message, exit code 1, no stack trace. */
export class UserError extends Error {
  readonly code: string;
  readonly problems: readonly Problem[];
  constructor(code: string, message: string, problems: readonly Problem[] = []) {
    super(message);
    this.name = 'UserError';
    this.code = code;
    this.problems = problems;
  }
}

export class ValidationError extends UserError {
  constructor(problems: readonly Problem[]) {
    super('E_INVALID', problems.map(formatProblem).join('\n'), problems);
    this.name = 'ValidationError';
  }
}
