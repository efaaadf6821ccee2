/** Reading a password: hidden when typed at a terminal, else the first line of stdin (for scripts). */
import readline from 'node:readline';

export async function readPassword(question: string): Promise<string> {
  return (await readPasswords([question]))[0]!;
}

/**
 * Several passwords in turn: each asked hidden at a terminal, else one line of stdin each (a
 * script pipes them in, one per line; a missing line reads as empty).
 */
export async function readPasswords(questions: string[]): Promise<string[]> {
  if (!process.stdin.isTTY) {
    const answers: string[] = [];
    const lines = readline.createInterface({ input: process.stdin, terminal: false });
    for await (const line of lines) {
      answers.push(line);
      if (answers.length === questions.length) break;
    }
    lines.close();
    return questions.map((_, i) => answers[i] ?? '');
  }
  const answers: string[] = [];
  for (const question of questions) answers.push(await askHidden(question));
  return answers;
}

async function askHidden(question: string): Promise<string> {
  process.stderr.write(question);
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Echo nothing while the password is typed.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

/** True when a person can be asked: stdin and stderr (where the question goes) are terminals. */
export function canAsk(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

/** A yes/no question on the terminal; anything but y or yes (Ctrl-C and Ctrl-D too) is no. */
export async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.question(`${question} [y/N] `, resolve);
      // Ctrl-D (end of input) and Ctrl-C answer no.
      rl.once('close', () => resolve(''));
      rl.once('SIGINT', () => resolve(''));
    });
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
