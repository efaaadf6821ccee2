/** The time, asked of the world by every area: tests set their own. */

export interface Clock {
  now(): number; // epoch ms
}
