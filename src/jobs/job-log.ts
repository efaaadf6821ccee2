/** Where a queue adapter reports what goes wrong in the background (the app's logger). */
export interface JobLog {
  warn(message: string): void;
  error(error: unknown, message: string): void;
}
