/**
 * Structured Field Values for HTTP (RFC 9651), the parts the resumable-upload draft and the
 * digest fields (RFC 9530) use: Items and Dictionaries of integers, decimals, strings, tokens,
 * byte sequences, booleans and dates, with parameters and inner lists. A value that does not
 * parse is malformed as a whole (`null`): the caller decides what that means for its field.
 */

/** Integers are numbers; decimals, tokens and dates are told apart by their wrappers. */
export type BareItem = number | string | boolean | Buffer | { decimal: number } | { token: string } | { date: number };
export interface Item {
  value: BareItem;
  params: Map<string, BareItem>;
}
export type Member = Item | { list: Item[]; params: Map<string, BareItem> };

class Malformed extends Error {}

class Parser {
  private at = 0;
  private readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  get done(): boolean {
    return this.at >= this.text.length;
  }

  peek(): string {
    return this.text[this.at] ?? '';
  }

  take(char: string): boolean {
    if (this.peek() !== char) return false;
    this.at += 1;
    return true;
  }

  skip(chars: string): void {
    while (!this.done && chars.includes(this.peek())) this.at += 1;
  }

  match(pattern: RegExp): string {
    const sticky = new RegExp(pattern.source, 'y');
    sticky.lastIndex = this.at;
    const found = sticky.exec(this.text);
    if (!found) throw new Malformed();
    this.at += found[0].length;
    return found[0];
  }

  key(): string {
    return this.match(/[a-z*][a-z0-9_\-.*]*/);
  }

  params(): Map<string, BareItem> {
    const params = new Map<string, BareItem>();
    while (this.take(';')) {
      this.skip(' ');
      const key = this.key();
      params.set(key, this.take('=') ? this.bareItem() : true);
    }
    return params;
  }

  item(): Item {
    return { value: this.bareItem(), params: this.params() };
  }

  member(): Member {
    if (!this.take('(')) return this.item();
    const list: Item[] = [];
    for (;;) {
      this.skip(' ');
      if (this.take(')')) return { list, params: this.params() };
      list.push(this.item());
      if (!' )'.includes(this.peek())) throw new Malformed();
    }
  }

  bareItem(): BareItem {
    const first = this.peek();
    if (first === '-' || /[0-9]/.test(first)) return this.number();
    if (first === '"') {
      const quoted = this.match(/"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"/);
      return quoted.slice(1, -1).replace(/\\(["\\])/g, '$1');
    }
    if (first === ':') {
      const encoded = this.match(/:[A-Za-z0-9+/]*={0,2}:/).slice(1, -1);
      if (encoded.length % 4 !== 0) throw new Malformed();
      return Buffer.from(encoded, 'base64');
    }
    if (first === '?') return this.match(/\?[01]/) === '?1';
    if (first === '@') {
      this.at += 1;
      const date = this.number();
      if (typeof date !== 'number') throw new Malformed();
      return { date };
    }
    return { token: this.match(/[A-Za-z*][\x21\x23-\x27\x2a\x2b\x2d-\x3a\x41-\x5a\x5e-\x7a\x7c\x7e]*/) };
  }

  number(): number | { decimal: number } {
    const text = this.match(/-?[0-9]{1,15}(?:\.[0-9]{1,3})?/);
    if (!text.includes('.')) return Number(text);
    if (text.replace('-', '').split('.')[0]!.length > 12) throw new Malformed();
    return { decimal: Number(text) };
  }
}

function parse<T>(text: string, read: (parser: Parser) => T): T | null {
  // Surrounding spaces are not part of a field value; field lines joined by a comma are one value.
  const parser = new Parser(text.replace(/^ +| +$/g, ''));
  try {
    const value = read(parser);
    return parser.done ? value : null;
  } catch (error) {
    if (error instanceof Malformed) return null;
    throw error;
  }
}

/** An Item field value; null when malformed. */
export function parseItem(text: string): Item | null {
  return parse(text, (parser) => parser.item());
}

/** A Dictionary field value; null when malformed. Later members replace earlier ones of the same key. */
export function parseDictionary(text: string): Map<string, Member> | null {
  return parse(text, (parser) => {
    const members = new Map<string, Member>();
    while (!parser.done) {
      const key = parser.key();
      members.set(key, parser.take('=') ? parser.member() : { value: true, params: parser.params() });
      parser.skip(' \t');
      if (parser.done) break;
      if (!parser.take(',')) throw new Malformed();
      parser.skip(' \t');
      if (parser.done) throw new Malformed();
    }
    return members;
  });
}

/** Serializes a byte sequence (`:base64:`). */
export function byteSequence(bytes: Buffer): string {
  return `:${bytes.toString('base64')}:`;
}
