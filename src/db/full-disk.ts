/**
 * A full disk as the databases report it. SQLite says SQLITE_FULL and PostgreSQL disk_full
 * (SQLSTATE 53100); the driver below turns both into an error with the code a full file
 * system raises, ENOSPC, so every layer above treats a full database like a full disk
 * (507 insufficient_storage, never a 500).
 */
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryCompiler, TransactionSettings } from 'kysely';

const DISK_FULL_CODES = new Set(['SQLITE_FULL', '53100']);

/** The database's disk is full; `cause` is the driver's own error. */
export class DatabaseDiskFull extends Error {
  readonly code = 'ENOSPC';

  constructor(cause: unknown) {
    super(`The database's disk is full: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'DatabaseDiskFull';
  }
}

export function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'ENOSPC' || DISK_FULL_CODES.has(code));
}

/** Throws `error`, as DatabaseDiskFull when it says the disk is full. */
export function translate(error: unknown): never {
  if (error instanceof DatabaseDiskFull || !isDiskFull(error)) throw error;
  throw new DatabaseDiskFull(error);
}

export interface FullDiskOptions {
  /**
   * Whether the connection is inside a transaction. SQLite ends one by itself on some errors
   * (SQLITE_FULL among them): a ROLLBACK then has nothing to do and would only replace the
   * error that matters with "cannot rollback - no transaction is active".
   */
  inTransaction?: () => boolean;
}

/** `dialect` with a driver that reports a full disk as DatabaseDiskFull. */
export function reportingFullDisk(dialect: Dialect, options: FullDiskOptions = {}): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createDriver: () => new FullDiskDriver(dialect.createDriver(), options),
  };
}

/**
 * Hands out connections whose queries translate their errors. The wrapped driver is given
 * its own connections back (it may keep private state on them, as the PostgreSQL driver does).
 */
class FullDiskDriver implements Driver {
  private readonly inner = new WeakMap<DatabaseConnection, DatabaseConnection>();
  private readonly driver: Driver;
  private readonly options: FullDiskOptions;

  constructor(driver: Driver, options: FullDiskOptions) {
    this.driver = driver;
    this.options = options;
  }

  private unwrap(connection: DatabaseConnection): DatabaseConnection {
    return this.inner.get(connection) ?? connection;
  }

  init(): Promise<void> {
    return this.driver.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.driver.acquireConnection();
    const wrapped: DatabaseConnection = {
      executeQuery: <R>(query: CompiledQuery) => connection.executeQuery<R>(query).catch(translate),
      streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
    };
    this.inner.set(wrapped, connection);
    return wrapped;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.driver.beginTransaction(this.unwrap(connection), settings).catch(translate);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.driver.commitTransaction(this.unwrap(connection)).catch(translate);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.options.inTransaction && !this.options.inTransaction()) return;
    await this.driver.rollbackTransaction(this.unwrap(connection));
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.driver.savepoint?.(this.unwrap(connection), name, compile).catch(translate);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    if (this.options.inTransaction && !this.options.inTransaction()) return;
    await this.driver.rollbackToSavepoint?.(this.unwrap(connection), name, compile);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.driver.releaseSavepoint?.(this.unwrap(connection), name, compile).catch(translate);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    const inner = this.unwrap(connection);
    this.inner.delete(connection);
    return this.driver.releaseConnection(inner);
  }

  destroy(): Promise<void> {
    return this.driver.destroy();
  }
}
