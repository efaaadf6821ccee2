/** Command-line options of `npm run bench`. */

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export interface BenchOptions {
  /** Measured runs per figure; each figure is the median of them. */
  runs: number;
  /** Size of the big test file in bytes. */
  size: number;
  quick: boolean;
  /** Clients at once in the capacity scenario (issue 27). */
  clients: number;
  /** Scenario names to run; empty means all. */
  only: string[];
  /** Write a V8 CPU profile of every Trickle process to .bench/profiles. */
  cpuProf: boolean;
  /** Use this already built server instead of building src/ into .bench/dist. */
  serverJs: string | null;
  help: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]

  --runs N          measured runs per figure, median reported (default 3)
  --size BYTES      size of the big test file; suffixes k, m, g (binary) allowed (default 1g)
  --quick           smoke test: 128 MiB file, 1 run (flags given after it still win)
  --only NAME[,..]  run only these scenarios or groups: seq-8m, conc4-8m, seq-256k,
                    rss (rss-10m, rss-big), clip (clip-in-order, clip-shuffled), conc200-1m,
                    conc2000-1m, capacity (capacity-64k)
  --clients N       clients at once in capacity-64k (default 500; --quick: 100)
  --cpu-prof        profile every Trickle process (node --cpu-prof) into .bench/profiles
  --server-js PATH  benchmark this built server instead of building src/ afresh
  --help            this text
`;

function parseSize(raw: string): number {
  const match = /^([0-9]+)\s*([kmg]?)(i?b)?$/i.exec(raw.trim());
  if (!match) throw new Error(`--size: cannot read ${JSON.stringify(raw)}`);
  const unit = { '': 1, k: 1024, m: MiB, g: GiB }[match[2]!.toLowerCase()] ?? 1;
  const bytes = Number(match[1]) * unit;
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new Error('--size must be at least 1 byte');
  return bytes;
}

function parsePositive(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number from 1`);
  return value;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { runs: 3, size: GiB, clients: 500, quick: false, only: [], cpuProf: false, serverJs: null, help: false };
  for (let i = 0; i < argv.length; i += 1) {
    const [name, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--runs':
        options.runs = parsePositive('--runs', value());
        break;
      case '--size':
        options.size = parseSize(value());
        break;
      case '--quick':
        // Applied in place, so `--quick --runs 2` means 128 MiB twice.
        options.quick = true;
        options.size = 128 * MiB;
        options.runs = 1;
        options.clients = 100;
        break;
      case '--clients':
        options.clients = parsePositive('--clients', value());
        break;
      case '--only':
        options.only.push(...value().split(',').map((s) => s.trim()).filter(Boolean));
        break;
      case '--cpu-prof':
        options.cpuProf = true;
        break;
      case '--server-js':
        options.serverJs = value();
        break;
      case '--help':
      case '-h':
        options.help = true;
        break;
      default:
        throw new Error(`unknown option ${name}; try --help`);
    }
  }
  return options;
}
